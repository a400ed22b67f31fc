import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../examples/raft/kv/kv-fsm.ts';
import { Cluster } from './cluster.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('example Raft over InmemTransport', () => {
  it('elects one leader and replicates commands to every FSM', async () => {
    cluster = new Cluster(['a', 'b', 'c']);
    cluster.bootstrap();
    const leader = await cluster.waitLeader();
    const results: unknown[] = [];
    for (let i = 0; i < 50; i++) {
      results.push(await leader.raft.apply(encodeCommand({ op: 'set', key: `k${i % 5}`, value: `v${i}` })));
    }
    expect(results[0]).toBeUndefined();
    expect(results[5]).toBe('v0'); // apply() resolves with the FSM's result: the previous value
    await leader.raft.barrier();
    await cluster.waitApplied(leader.raft.lastApplied);
    for (const n of cluster.nodes.values()) {
      expect(n.fsm.entries()).toEqual({ k0: 'v45', k1: 'v46', k2: 'v47', k3: 'v48', k4: 'v49' });
    }
    expect(cluster.history.violations).toEqual([]);
  });
});
