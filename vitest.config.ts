import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["runner/test/**/*.test.ts", "action/test/**/*.test.ts"],
    globalSetup: ["runner/test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real sshd / git servers; two cores, so keep the pool small.
    pool: "forks",
    maxWorkers: 2,
  },
});
