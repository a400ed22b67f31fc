/**
 * Issue 12, scenarios 1 and 2 (hashicorp/raft 1.7.3): a Go cluster with a
 * TypeScript follower. Also proves the harness on a Go-only cluster.
 */
import { describe, expect, it } from 'vitest';

import {
  del,
  formCluster,
  go,
  MixedNode,
  mixedSuite,
  mapLimit,
  post,
  put,
  TEST_TIMING,
  tempDir,
  ts,
  until,
  waitConverged,
  waitLeader,
  waitValues,
} from './cluster-harness.ts';

const skip = mixedSuite();

/** Writes `n` keys `${prefix}<i>` through `http` (redirects followed), `clients` at a time, then deletes every 10th. */
async function writeKeys(http: string, prefix: string, n: number, clients = 32): Promise<Map<string, string | undefined>> {
  const expected = new Map<string, string | undefined>();
  const keys = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const ok = await mapLimit(keys, clients, async (k, i) => put(http, k, `value-${i}`));
  expect(ok.filter((x) => !x)).toEqual([]);
  for (const [i, k] of keys.entries()) expected.set(k, `value-${i}`);
  const gone = keys.filter((_, i) => i % 10 === 0);
  expect((await mapLimit(gone, clients, (k) => del(http, k))).filter((x) => !x)).toEqual([]);
  for (const k of gone) expected.set(k, undefined);
  return expected;
}

describe.skipIf(skip !== undefined)(`Go leads, TS follows (hashicorp/raft 1.7.3)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  it('harness: three Go 1.7.3 nodes form a cluster, replicate, move leadership and survive kill -9 of the leader', async () => {
    const nodes = ['g1', 'g2', 'g3'].map((id) => new MixedNode(id, go('1.7.3')));
    const leader = await formCluster(nodes);
    expect(leader.id).toBe('g1');
    const expected = await writeKeys(nodes[1]!.http, 'h', 50); // through a follower: redirected
    await waitValues(nodes, expected);
    expect((await post(leader.http, '/transfer', { id: 'g3' })).status).toBe(204);
    expect((await waitLeader(nodes)).id).toBe('g3');
    await nodes[2]!.kill9();
    const next = await waitLeader(nodes, { not: 'g3' });
    expect(['g1', 'g2']).toContain(next.id);
    expect(await put(next.http, 'after', 'kill')).toBe(true);
    await waitValues(nodes.slice(0, 2), new Map([['after', 'kill']]));
  }, 60_000);

  it('scenario 1: a Go leader adds a TS voter (AddVoter), applies 5,000 commands through its pipeline, and the FSMs end equal', async () => {
    // hashicorp's default timeouts (1 s): 5,000 writes on a busy machine must not cost g1 its leadership
    const g1 = new MixedNode('g1', go('1.7.3'), []);
    const g2 = new MixedNode('g2', go('1.7.3'), []);
    const t1 = new MixedNode('t1', ts, []);
    const nodes = [g1, g2, t1];
    const leader = await formCluster(nodes); // g1 bootstraps; /join on g1 is AddVoter
    expect(leader.id).toBe('g1');
    const expected = await writeKeys(g1.http, 'k', 5000);
    // every key read back on the TS follower and on the Go leader; g2 is held to the same applied index below
    await waitValues([g1, t1], expected, 60_000);
    const st = await waitConverged(nodes);
    const [gs, ts1] = [st[0]!, st[2]!];
    expect(ts1.appliedIndex).toBe(gs.commitIndex);
    expect(st[1]!.appliedIndex).toBe(gs.commitIndex);
    expect(ts1.lastLogIndex).toBe(gs.lastLogIndex);
    expect(ts1.term).toBe(gs.term);
    expect((await g1.status())?.leader).toBe('g1'); // one leader all along: everything above went g1 → t1
    // hashicorp's replication.go logs entering pipeline mode to a peer, and leaving it on a pipeline error
    expect(g1.logLines('pipelining replication', t1.raft).length).toBeGreaterThan(0);
    expect(g1.logLines('failed to pipeline appendEntries', t1.raft)).toEqual([]);
    expect(g1.logLines('aborting pipeline replication', t1.raft)).toEqual([]);
  }, 120_000);

  it('scenario 2: a TS follower kept down past Go log compaction catches up by InstallSnapshot from Go, then by replication', async () => {
    const compact = ['--snapshot-threshold', '64', '--trailing-logs', '16'];
    const g1 = new MixedNode('g1', go('1.7.3'), [...TEST_TIMING, ...compact]);
    const g2 = new MixedNode('g2', go('1.7.3'), [...TEST_TIMING, ...compact]);
    const t1 = new MixedNode('t1', ts, [...TEST_TIMING, '--data', tempDir()]);
    const nodes = [g1, g2, t1];
    await formCluster(nodes);
    const before = await writeKeys(g1.http, 'a', 100);
    await waitValues(nodes, before);
    const tsBefore = (await t1.status())!;
    expect(await t1.terminate()).toBe(0);

    const during = await writeKeys(g1.http, 'b', 400);
    for (const g of [g1, g2]) expect((await post(g.http, '/snapshot')).status).toBe(204);
    const gs = (await g1.status())!;
    expect(gs.state).toBe('Leader');
    // the leader's log now starts after everything t1 has: only a snapshot can bring it back
    expect(gs.lastSnapshotIndex - 16).toBeGreaterThan(tsBefore.lastLogIndex);

    await t1.start(); // same --data and addresses
    const all = new Map([...before, ...during]);
    await waitValues(nodes, all, 60_000);
    expect(g1.logLines('installing snapshot on', 'peer=t1').length).toBeGreaterThan(0);
    expect(t1.logLines('installed snapshot at').length).toBeGreaterThan(0);
    expect((await t1.status())!.lastSnapshotIndex).toBeGreaterThanOrEqual(gs.lastSnapshotIndex);

    const after = await writeKeys(g1.http, 'c', 50);
    await waitValues(nodes, after);
    await until('t1 to apply the leader commit index', async () => {
      const [l, f] = [await g1.status(), await t1.status()];
      return l && f && f.appliedIndex === l.commitIndex && f.lastLogIndex === l.lastLogIndex;
    });
  }, 120_000);
});
