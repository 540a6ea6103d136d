import { isOpscError, type OpscError } from "../../src/core/errors.js";

/** The OpscError a promise rejects with; any other outcome fails the test. */
export async function opscFailure(p: Promise<unknown>): Promise<OpscError> {
  try {
    await p;
  } catch (e) {
    if (isOpscError(e)) return e;
    throw e;
  }
  throw new Error("expected a failure");
}
