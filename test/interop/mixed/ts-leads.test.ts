/**
 * Issue 12, scenarios 3 and 5 (hashicorp/raft 1.7.3): the TypeScript node
 * leads Go followers, after a Go leader hands it leadership with TimeoutNow,
 * and changes the membership of a cluster of Go voters.
 */
import { describe, expect, it } from 'vitest';

import {
  formCluster,
  go,
  MixedNode,
  mixedSuite,
  mapLimit,
  post,
  put,
  sortedConf,
  ts,
  until,
  waitConverged,
  waitLeader,
  waitValues,
} from './cluster-harness.ts';

const skip = mixedSuite();

async function writeKeys(http: string, prefix: string, n: number): Promise<Map<string, string>> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const ok = await mapLimit(keys, 16, (k, i) => put(http, k, `${prefix}-value-${i}`));
  expect(ok.filter((x) => !x)).toEqual([]);
  return new Map(keys.map((k, i) => [k, `${prefix}-value-${i}`]));
}

describe.skipIf(skip !== undefined)(`TS leads, Go follows (hashicorp/raft 1.7.3)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  it('scenario 3: LeadershipTransferToServer from a Go leader makes the TS node leader (TimeoutNow); Go followers take our noop, heartbeats and commands', async () => {
    const g1 = new MixedNode('g1', go('1.7.3'));
    const g2 = new MixedNode('g2', go('1.7.3'));
    const t1 = new MixedNode('t1', ts);
    const nodes = [g1, g2, t1];
    expect((await formCluster(nodes)).id).toBe('g1');
    const goTerm = (await g1.status())!.term;
    const marks = [g1.log.length, g2.log.length];

    const tr = await post(g1.http, '/transfer', { id: 't1' }); // raft.LeadershipTransferToServer
    expect(tr).toEqual({ status: 204, text: '' });
    expect((await waitLeader(nodes)).id).toBe('t1');
    expect(t1.logLines('TimeoutNow: campaigning for a leadership transfer').length).toBe(1);
    const tsTerm = (await t1.status())!.term;
    expect(tsTerm).toBe(goTerm + 1); // one election, won at once: the transfer flag let it past the Go voters' leader check

    const t0 = Date.now();
    const written = await writeKeys(g2.http, 'x', 200); // through a Go follower: redirected to the TS leader via _http/t1
    const t1Done = Date.now();
    await waitValues(nodes, written);
    const st = await waitConverged(nodes);
    for (const s of st) {
      expect(s.leader).toBe('t1');
      expect(s.term).toBe(tsTerm);
      expect(s.lastLogIndex).toBe(st[2]!.lastLogIndex); // the same log, our term-start noop included
    }
    // the decoded Log.AppendedAt of our entries is the time we appended them (binary time format, 1.7.3's default)
    const at = Date.parse((await g1.status())!.lastAppendedAt ?? '');
    expect(at).toBeGreaterThanOrEqual(t0 - 1);
    expect(at).toBeLessThanOrEqual(t1Done + 1);

    // our heartbeats keep the Go followers following through an idle period of several election timeouts
    const idleFrom = (await g1.status())!.commitIndex;
    await until('a consistent read through the TS leader, 3 s later', async () => {
      if (Date.now() - t1Done < 3000) return false;
      return (await (await fetch(`http://${t1.http}/kv/x1?consistent=1`)).text()) === 'x-value-1';
    });
    for (const [i, g] of [g1, g2].entries()) {
      const s = (await g.status())!;
      expect(s.term).toBe(tsTerm);
      expect(s.leader).toBe('t1');
      expect(g.logLinesSince(marks[i]!, 'heartbeat timeout reached')).toEqual([]);
    }
    expect((await t1.status())!.commitIndex).toBeGreaterThan(idleFrom); // the barrier committed
  }, 90_000);

  it('scenario 5: the TS leader adds and removes Go voters; the Go nodes decode our LogConfiguration and act on it', async () => {
    const t1 = new MixedNode('t1', ts);
    const g1 = new MixedNode('g1', go('1.7.3'));
    const g2 = new MixedNode('g2', go('1.7.3'));
    const g3 = new MixedNode('g3', go('1.7.3'));
    // t1 bootstraps; the Go nodes start empty and are added by our AddVoter (a LogConfiguration entry of ours)
    expect((await formCluster([t1, g1, g2])).id).toBe('t1');
    let st = await waitConverged([t1, g1, g2]);
    const conf = sortedConf(st[0]!);
    expect(conf.map((s) => `${s.id}/${s.suffrage}`)).toEqual(['g1/Voter', 'g2/Voter', 't1/Voter']);
    for (const s of st) expect(sortedConf(s)).toEqual(conf);
    await waitValues([t1, g1, g2], await writeKeys(t1.http, 'm', 50));

    // remove g2: g1 decodes the new configuration; a two-voter quorum (t1, g1) carries on without g2
    expect((await post(t1.http, '/remove', { id: 'g2' })).status).toBe(204);
    st = await waitConverged([t1, g1]);
    expect(sortedConf(st[1]!).map((s) => s.id)).toEqual(['g1', 't1']);
    await g2.kill9();
    const more = await writeKeys(t1.http, 'n', 50);
    await waitValues([t1, g1], more);

    // add a third Go voter, then have the TS leader hand over to a Go node that learned its peers from us
    await g3.start();
    expect((await post(t1.http, '/join', { id: 'g3', addr: g3.raft })).status).toBe(204);
    st = await waitConverged([t1, g1, g3]);
    for (const s of st) expect(sortedConf(s).map((x) => x.id)).toEqual(['g1', 'g3', 't1']);
    // and every node knows g3's HTTP address, so t1 can redirect to it once it leads
    await waitValues([t1, g1, g3], new Map([...more, ['_http/g3', g3.http]]));
    expect((await post(t1.http, '/transfer', { id: 'g3' })).status).toBe(204);
    const leader = await waitLeader([t1, g1, g3]);
    expect(leader.id).toBe('g3');
    // g3's view of the cluster, including t1's address, came only from our entries
    expect(sortedConf((await g3.status())!)).toEqual(sortedConf((await t1.status())!));
    const last = await writeKeys(t1.http, 'o', 20); // redirected from t1 to the Go leader
    await waitValues([t1, g1, g3], last);
  }, 90_000);
});
