/** A remote URL for logs and errors: credentials in it must never reach either. */
export function displayUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
