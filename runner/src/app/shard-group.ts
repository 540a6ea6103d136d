import { usageError } from "../core/errors.js";

/**
 * Which sharded run a shard belongs to. All shards of one GitHub Actions
 * workflow run share GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, so by default the
 * group comes from them and every shard's record names the same group;
 * `opsc runs show` merges records by it. Elsewhere the caller names it.
 */
export function shardGroup(
  shard: { index: number; count: number },
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
): { index: number; count: number; group?: string } {
  const group =
    explicit ??
    env.OPSC_SHARD_GROUP ??
    (env.GITHUB_RUN_ID ? `github-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? "1"}` : undefined);
  return group ? { ...shard, group } : shard;
}

/** `K/N` for --shard. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw usageError("cli.bad-shard", `--shard ${text}: expected K/N with 1 <= K <= N`, {
      hint: "for example --shard 2/3",
    });
  }
  return { index, count };
}
