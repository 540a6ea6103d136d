import { describe, expect, it } from "vitest";
import { errorText } from "../../src/core/error-text.js";
import { userError } from "../../src/core/errors.js";

describe("errorText", () => {
  it("gives an error's message, also for OpsConductor errors and subclasses", () => {
    expect(errorText(new TypeError("bad type"))).toBe("bad type");
    expect(errorText(userError("x.y", "what went wrong"))).toBe("what went wrong");
  });

  it("gives the text of anything else thrown, never undefined", () => {
    expect(errorText("plain string")).toBe("plain string");
    expect(errorText(42)).toBe("42");
    expect(errorText(undefined)).toBe("undefined");
    expect(errorText({ message: "not an Error" })).toBe("[object Object]");
  });
});
