/** bench/raft/go-cluster.ts: the Go row of the Raft cluster benchmark runs and cleans up. */
import { describe, expect, it } from 'vitest';

import { benchGoCluster, formatTable, goClusterSkipReason } from '../../bench/raft/go-cluster.ts';

const skip = goClusterSkipReason();

describe.skipIf(skip !== undefined)(`Go cluster benchmark${skip ? ` — skipped: ${skip}` : ''}`, () => {
  it('a 3-node hashicorp/raft 1.7.3 cluster commits the HTTP workload without errors and reports p50 ≤ p99', async () => {
    const r = await benchGoCluster({ seconds: 1, clients: 4 });
    expect(r.name).toBe('go 1.7.3');
    expect(r.ops).toBeGreaterThan(0);
    expect(r.errors).toBe(0);
    expect(r.p50).toBeLessThanOrEqual(r.p99);
    expect(formatTable([r])).toContain('go 1.7.3');
  }, 300_000);
});
