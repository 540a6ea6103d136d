/**
 * A job's `approval:` names an allowed_signers file that exists, parses as
 * ssh-keygen reads it, and lists enough distinct signers to ever reach
 * `required`. Each file is checked once, however many jobs name it.
 */
import { parseAllowedSigners } from "../../core/allowed-signers.js";
import type { RepoFiles } from "../repo-files.js";
import type { RepoIndex } from "../repo-index.js";

export function checkApprovals(index: RepoIndex, files: RepoFiles): void {
  const principals = new Map<string, number>();
  for (const job of index.jobs.values()) {
    const approval = job.raw.approval;
    if (!approval || job.partial) continue;
    const path = approval.signers;
    let count = principals.get(path);
    if (count === undefined) {
      const bytes = files.files.get(path);
      if (bytes === undefined) {
        index.report(
          job.source,
          ["approval", "signers"],
          "error",
          "approval.signers-missing",
          `the signers file ${path} does not exist`,
          `create ${path} at the repository root, one line per signer: \`alice@example.com ssh-ed25519 AAAA...\` (see docs/approvals.md)`,
        );
        continue;
      }
      const { signers, problems } = parseAllowedSigners(Buffer.from(bytes).toString("utf8"));
      for (const p of problems) {
        index.diagnostics.push({
          file: path,
          line: p.line,
          col: p.col,
          severity: "error",
          code: "approval.signers-invalid",
          message: p.message,
          hint: "the format is ssh-keygen's allowed_signers: `principals [options] keytype base64-key [comment]`",
        });
      }
      count = new Set(signers.map((s) => s.principals)).size;
      principals.set(path, count);
    }
    if (count < approval.required) {
      index.report(
        job.source,
        ["approval", "required"],
        "error",
        "approval.too-few-signers",
        `the job needs ${approval.required} signer(s) but ${path} lists ${count}`,
        `add signers to ${path}, or lower approval.required`,
      );
    }
  }
}
