/**
 * The `strategy.matrix` for a sharded run in GitHub Actions: one entry per
 * shard, `K/N`, for `opsc run --shard K/N`. Never more shards than targets, so
 * no runner starts only to find nothing to do.
 */
export interface ShardMatrix {
  shard: string[];
}

export function shardMatrix(requested: number, targets: number): ShardMatrix {
  const count = Math.max(1, Math.min(Math.floor(requested), targets));
  return { shard: Array.from({ length: count }, (_, i) => `${i + 1}/${count}`) };
}
