/** access.yaml: loading, checks with positions, evaluation and the review of a change. */
import { describe, expect, it } from "vitest";
import { may, rolesOf, type Identity } from "../../src/core/access-policy.js";
import { diffAccess } from "../../src/review/diff-access.js";
import { brief, load } from "../repo/helpers.js";

const POLICY = `roles:
  viewer:   { view: ["*"] }
  operator: { view: ["*"], run: ["deploy/*", "j"] }
  admin:    { view: ["*"], run: ["*"], admin: true }
members:
  - { user: Alice@Example.com, roles: [operator] }
  - { group: ops, roles: [viewer] }
  - { user: root@example.com, roles: [admin] }
`;
const JOBS = {
  "jobs/deploy/web.yaml": "targets: { names: [local] }\nsteps: [{ run: echo }]\n",
  "jobs/deploy/eu/db.yaml": "targets: { names: [local] }\nsteps: [{ run: echo }]\n",
  "jobs/other.yaml": "targets: { names: [local] }\nsteps: [{ run: echo }]\n",
};

const who = (user: string, extra: Partial<Identity> = {}): Identity => ({
  user,
  via: "token",
  groups: [],
  ...extra,
});

describe("access.yaml", () => {
  it("loads into the model and validates clean", () => {
    const { model, diagnostics } = load({ "access.yaml": POLICY, ...JOBS });
    expect(diagnostics.filter((d) => d.file === "access.yaml").map(brief)).toEqual([]);
    expect([...model.access!.roles.keys()]).toEqual(["viewer", "operator", "admin"]);
  });

  it("reports unknown roles, duplicate members and patterns that match no job, where they are", () => {
    const text = `roles:
  operator: { view: ["*"], run: ["deploy/*", "deplyo/web"] }
members:
  - { user: alice@example.com, roles: [operater] }
  - { user: ALICE@example.com, roles: [operator] }
`;
    const { diagnostics } = load({ "access.yaml": text, ...JOBS });
    expect(diagnostics.filter((d) => d.file === "access.yaml").map(brief)).toEqual([
      "access.yaml:1:1 access.job-without-runner",
      "access.yaml:2:46 access.pattern-matches-nothing",
      "access.yaml:4:40 access.unknown-role",
      "access.yaml:5:13 access.duplicate-member",
    ]);
    const unknown = diagnostics.find((d) => d.code === "access.unknown-role")!;
    expect(unknown).toMatchObject({ severity: "error", hint: 'did you mean "operator"?' });
  });

  it("a malformed file is a schema error with line and column, and gives no policy", () => {
    const { model, diagnostics } = load({
      "access.yaml": "roles:\n  viewer: { view: '*' }\nmembers: []\n",
    });
    expect(diagnostics.filter((d) => d.file === "access.yaml").map(brief)).toEqual([
      "access.yaml:2:19 schema.type",
    ]);
    expect(model.access).toBeUndefined();
  });

  it("is not a layout warning", () => {
    const { diagnostics } = load({ "access.yaml": POLICY, ...JOBS });
    expect(diagnostics.filter((d) => d.code === "layout.unknown-file")).toEqual([]);
  });
});

describe("may", () => {
  const { model } = load({ "access.yaml": POLICY, ...JOBS });
  const policy = model.access!;

  it("grants by user (any case) and by OIDC group", () => {
    expect(rolesOf(policy, who("alice@example.com"))).toEqual(["operator"]);
    expect(rolesOf(policy, who("bob@example.com", { via: "oidc", groups: ["ops"] }))).toEqual(["viewer"]);
    // A token's user is not in OIDC groups, whatever it claims.
    expect(rolesOf(policy, who("bob@example.com", { groups: ["ops"] }))).toEqual([]);
  });

  it("checks run against job patterns; * spans folders", () => {
    const alice = who("alice@example.com");
    expect(may(policy, alice, "run", "deploy/web")).toBe(true);
    expect(may(policy, alice, "run", "deploy/eu/db")).toBe(true);
    expect(may(policy, alice, "run", "other")).toBe(false);
    expect(may(policy, alice, "view", "other")).toBe(true);
    expect(may(policy, alice, "admin")).toBe(false);
    expect(may(policy, who("root@example.com"), "admin")).toBe(true);
  });

  it("a non-member may do nothing; without a policy only the bootstrap token may", () => {
    expect(may(policy, who("eve@example.com"), "view")).toBe(false);
    expect(may(undefined, who("alice@example.com"), "view")).toBe(false);
    expect(may(undefined, who("bootstrap", { via: "bootstrap-token" }), "run", "x")).toBe(true);
  });
});

describe("diffAccess", () => {
  it("shows roles and members that changed, and nothing when nothing did", () => {
    const base = load({ "access.yaml": POLICY, ...JOBS }).model.access;
    const head = load({
      "access.yaml": POLICY.replace('run: ["deploy/*", "j"]', 'run: ["deploy/*", "other"]').replace(
        "group: ops, roles: [viewer]",
        "group: ops, roles: [viewer, operator]",
      ),
      ...JOBS,
    }).model.access;
    expect(diffAccess(base, base)).toBeUndefined();
    const d = diffAccess(base, head)!;
    expect(d.roles).toEqual([
      {
        name: "operator",
        change: "changed",
        before: { view: ["*"], run: ["deploy/*", "j"], admin: false },
        after: { view: ["*"], run: ["deploy/*", "other"], admin: false },
      },
    ]);
    expect(d.members).toEqual([
      { member: "group ops", change: "changed", before: ["viewer"], after: ["operator", "viewer"] },
    ]);
    expect(diffAccess(undefined, head)?.change).toBe("added");
  });
});
