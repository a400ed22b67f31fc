import { afterEach, describe, expect, it } from 'vitest';
import { Suffrage } from '../../../examples/raft/configuration.ts';
import { encodeCommand } from '../../../examples/raft/kv/kv-fsm.ts';
import { voteRequest } from '../../../src/builders.ts';
import { InmemTransport } from '../../../src/inmem/inmem-transport.ts';
import { Cluster } from './cluster.ts';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('example Raft over InmemTransport', () => {
  it('elects one leader and replicates commands to every FSM', async () => {
    cluster = await Cluster.create(['a', 'b', 'c']);
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

const set = (key: string, value: string) => encodeCommand({ op: 'set', key, value });

describe('example Raft: leadership, membership, snapshots', () => {
  it('transfers leadership to a named node with TimeoutNow', async () => {
    cluster = await Cluster.create(['a', 'b', 'c']);
    cluster.bootstrap();
    const leader = await cluster.waitLeader();
    await leader.raft.apply(set('x', '1'));
    const target = [...cluster.nodes.values()].find((n) => n !== leader)!;
    await leader.raft.leadershipTransfer(target.id);
    const next = await cluster.waitLeader();
    expect(next.id).toBe(target.id);
    await next.raft.apply(set('x', '2'));
    await cluster.waitApplied(next.raft.lastApplied);
    expect(cluster.history.violations).toEqual([]);
  });

  it('adds and removes voters; the removed leader steps down', async () => {
    cluster = await Cluster.create(['a', 'b', 'c', 'd']);
    const a = cluster.nodes.get('a')!;
    a.raft.bootstrapCluster({ servers: [{ id: 'a', address: a.addr, suffrage: 0 }] });
    const leader = await cluster.waitLeader();
    expect(leader.id).toBe('a');
    for (const id of ['b', 'c', 'd']) await a.raft.addVoter(id, cluster.nodes.get(id)!.addr);
    await a.raft.apply(set('k', 'v'));
    await cluster.waitApplied(a.raft.lastApplied);
    expect(
      cluster.nodes
        .get('d')!
        .raft.stats()
        .configuration.servers.map((s) => s.id),
    ).toEqual(['a', 'b', 'c', 'd']);
    await a.raft.removeServer('a');
    expect(a.raft.state()).not.toBe('Leader');
    const next = await cluster.waitLeader();
    expect(next.id).not.toBe('a');
    await next.raft.apply(set('k', 'w'));
    expect(next.raft.stats().configuration.servers.map((s) => s.id)).toEqual(['b', 'c', 'd']);
    expect(cluster.history.violations).toEqual([]);
  });

  it('a follower down past log compaction catches up by InstallSnapshot, then restarts from its stores', async () => {
    cluster = await Cluster.create(['a', 'b', 'c']);
    cluster.bootstrap();
    let leader = await cluster.waitLeader();
    const lagging = [...cluster.nodes.values()].find((n) => n !== leader)!;
    await cluster.stopNode(lagging.id);
    for (let i = 0; i < 200; i++) await leader.raft.apply(set(`k${i % 7}`, `v${i}`));
    // a small trailing log, so the follower's next index is compacted away
    (leader.raft.config as { trailingLogs: number }).trailingLogs = 10;
    const meta = leader.raft.snapshot();
    expect(leader.raft.logs.firstIndex()).toBeGreaterThan(lagging.raft.lastIndex() + 1);
    await cluster.startNode(lagging.id);
    leader = await cluster.waitLeader();
    await leader.raft.barrier();
    await cluster.waitApplied(leader.raft.lastApplied);
    expect(lagging.raft.stats().lastSnapshotIndex).toBeGreaterThanOrEqual(meta.index);
    expect(lagging.fsm.entries()).toEqual(leader.fsm.entries());
    // restart: the snapshot and the log after it come back from the stores
    await cluster.stopNode(lagging.id);
    await leader.raft.apply(set('after', 'restart'));
    await cluster.startNode(lagging.id);
    await cluster.waitApplied(leader.raft.lastApplied);
    expect(lagging.fsm.entries()).toEqual(leader.fsm.entries());
    expect(cluster.history.violations).toEqual([]);
  });

  it('fails apply() with a typed error on a follower and when leadership is lost', async () => {
    cluster = await Cluster.create(['a', 'b', 'c']);
    cluster.bootstrap();
    const leader = await cluster.waitLeader();
    const follower = [...cluster.nodes.values()].find((n) => n !== leader)!;
    await expect(follower.raft.apply(set('a', 'b'))).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    cluster.partition([[leader.id], [...cluster.nodes.keys()].filter((id) => id !== leader.id)]);
    const pending = leader.raft.apply(set('lost', 'maybe'));
    await expect(pending).rejects.toMatchObject({ code: 'ERR_LEADERSHIP_LOST' });
  });

  it("votes as hashicorp 1.7 does: ignores strangers, adopts a non-voter's higher term and still refuses it", async () => {
    cluster = await Cluster.create(['a']);
    const a = cluster.nodes.get('a')!;
    // A voter that never answers keeps `a` leaderless, so candidates are heard.
    a.raft.bootstrapCluster({
      servers: [
        { id: 'a', address: a.addr, suffrage: Suffrage.Voter },
        { id: 'z', address: 'addr-z', suffrage: Suffrage.Voter },
        { id: 'n', address: 'addr-n', suffrage: Suffrage.Nonvoter },
      ],
    });
    const asker = new InmemTransport('addr-n', { localID: 'n' });
    try {
      asker.connect(a.addr, a.trans);
      const ask = (id: string, term: number) =>
        asker.requestVote('a', a.addr, voteRequest({ term, id, candidate: 'addr-n', lastLogIndex: 99, lastLogTerm: 99 }));
      const fromNonvoter = await ask('n', 1_000);
      expect(fromNonvoter).toMatchObject({ granted: false, term: 1_000 });
      expect(a.raft.stats().term).toBe(1_000);
      const fromStranger = await ask('x', 2_000);
      expect(fromStranger).toMatchObject({ granted: false, term: 1_000 });
      expect(a.raft.stats().term).toBe(1_000);
    } finally {
      await asker.close();
    }
  });
});
