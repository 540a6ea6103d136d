/**
 * Why a run was aborted decides how it is recorded: a person cancelling is
 * `cancelled`; the runner shutting down under it is `interrupted`, the same
 * result a crash gets, because nobody decided to stop the work.
 */
export const SHUTDOWN_CODE = "serve.shutdown";

export function isShutdown(reason: unknown): boolean {
  return (
    typeof reason === "object" && reason !== null && (reason as { code?: unknown }).code === SHUTDOWN_CODE
  );
}
