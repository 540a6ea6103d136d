/** OPSC_LIBRARY_MIRROR: which URL a library is fetched from (git's `url.<base>.insteadOf`). */
import { describe, expect, it } from "vitest";
import { isOpscError } from "../../src/core/errors.js";
import { mirroredUrl, parseMirrorRules } from "../../src/git/library-mirror.js";

const URL = "https://github.com/opsconductor/opsconductor.git";

describe("OPSC_LIBRARY_MIRROR", () => {
  it("leaves the URL alone when unset, empty, or when no prefix matches", () => {
    expect(mirroredUrl(URL, {})).toBe(URL);
    expect(mirroredUrl(URL, { OPSC_LIBRARY_MIRROR: " \n" })).toBe(URL);
    expect(mirroredUrl(URL, { OPSC_LIBRARY_MIRROR: "https://gitlab.com/=https://mirror.example/gl/" })).toBe(
      URL,
    );
  });

  it("replaces the longest matching prefix, among entries separated by any white space", () => {
    const env = {
      OPSC_LIBRARY_MIRROR: [
        "https://github.com/=https://mirror.example/github/",
        "https://github.com/opsconductor/=http://127.0.0.1:8080/ops/",
        "\thttps://git.example.com/=https://mirror.example/corp/",
      ].join("\n"),
    };
    expect(mirroredUrl(URL, env)).toBe("http://127.0.0.1:8080/ops/opsconductor.git");
    expect(mirroredUrl("https://github.com/acme/steps.git", env)).toBe(
      "https://mirror.example/github/acme/steps.git",
    );
    expect(mirroredUrl("https://git.example.com/ops/steps.git", env)).toBe(
      "https://mirror.example/corp/ops/steps.git",
    );
  });

  it("maps a whole URL, and splits an entry at its first `=` only", () => {
    expect(parseMirrorRules(`${URL}=https://mirror.example/x.git?a=b`)).toEqual([
      { prefix: URL, replacement: "https://mirror.example/x.git?a=b" },
    ]);
  });

  it.each([
    "https://github.com/",
    "=https://mirror.example/",
    "https://github.com/=",
    "https://github.com/=ssh://m/",
  ])("refuses %j as an environment error that says the expected form", (value) => {
    let caught: unknown;
    try {
      mirroredUrl(URL, { OPSC_LIBRARY_MIRROR: value });
    } catch (e) {
      caught = e;
    }
    expect(isOpscError(caught)).toBe(true);
    if (!isOpscError(caught)) return;
    expect(caught.code).toBe("library.bad-mirror");
    expect(caught.kind).toBe("environment");
    expect(caught.message).toContain("PREFIX=REPLACEMENT");
    expect(caught.hint).toContain("OPSC_LIBRARY_MIRROR=");
  });

  it("never repeats credentials written into a bad entry", () => {
    expect(() => mirroredUrl(URL, { OPSC_LIBRARY_MIRROR: "https://user:s3cret-pw@mirror.example/" })).toThrow(
      /^(?!.*s3cret-pw).*$/s,
    );
  });
});
