/** Small text helpers shared by the action's steps. */

/** A table cell: `|` and line breaks would end the cell. */
export function tableCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, "<br>");
}

/** A repository-relative path as seen from the workspace root. */
export function workspacePath(relativeDir: string, file: string): string {
  return relativeDir === "" ? file : `${relativeDir}/${file}`;
}
