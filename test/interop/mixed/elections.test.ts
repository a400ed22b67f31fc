/**
 * Issue 12, scenario 4 (hashicorp/raft 1.7.3): elections across languages.
 * Five voters, three Go and two TypeScript; the leader is killed (kill -9)
 * again and again, alternating the language of the leader that dies, under a
 * steady load of unique-key writes. Pre-vote is on on both sides (1.7.3's
 * default and the example's). No acknowledged write may be lost.
 */
import { describe, expect, it } from 'vitest';

import {
  formCluster,
  go,
  MixedNode,
  mixedSuite,
  post,
  startLoad,
  TEST_TIMING,
  tempDir,
  ts,
  until,
  waitConverged,
  waitLeader,
  waitValues,
} from './cluster-harness.ts';

const skip = mixedSuite();

describe.skipIf(skip !== undefined)(
  `Elections across languages (hashicorp/raft 1.7.3)${skip ? ` — skipped: ${skip}` : ''}`,
  () => {
    it('scenario 4: killing the leader, Go or TS, four times under load: a new leader each time, voted in across languages with pre-vote, no acknowledged write lost', async () => {
      const nodes = [
        new MixedNode('g1', go('1.7.3')),
        new MixedNode('t1', ts, [...TEST_TIMING, '--data', tempDir()]),
        new MixedNode('g2', go('1.7.3')),
        new MixedNode('t2', ts, [...TEST_TIMING, '--data', tempDir()]),
        new MixedNode('g3', go('1.7.3')),
      ];
      await formCluster(nodes);
      const load = startLoad(() => nodes, 2);
      const history: string[] = [];
      try {
        for (const lang of ['go', 'ts', 'go', 'ts'] as const) {
          let leader = await waitLeader(nodes);
          if (leader.kind.lang !== lang) {
            const target = nodes.find((n) => n.kind.lang === lang && n.running)!;
            expect((await post(leader.http, '/transfer', { id: target.id })).status).toBe(204);
            leader = await waitLeader(nodes);
            expect(leader.id).toBe(target.id);
          }
          const before = load.acked.size;
          await leader.kill9();
          const next = await waitLeader(nodes, { not: leader.id });
          history.push(`${leader.name} killed → ${next.name} elected`);
          // the cluster keeps taking writes under the new leader
          await until('acknowledged writes under the new leader', async () => load.acked.size > before);
          // back with the same addresses: TS from its --data, Go with empty in-memory stores, caught up by the leader
          await leader.start();
          await waitConverged(nodes, 60_000);
        }
      } finally {
        await load.stop();
      }
      const acked = load.acked;
      expect(acked.size).toBeGreaterThan(0);
      await waitValues(nodes, acked, 60_000);

      // pre-vote across languages: 1.7.3 candidates log each pre-vote answer with the voter's ID; a TS candidate's
      // election (not a TimeoutNow transfer) only starts after a pre-vote quorum, which needs Go voters here
      const goSawTsPreVotes = nodes
        .filter((n) => n.kind.lang === 'go')
        .flatMap((n) => n.log.split('\n').filter((l) => /pre-vote granted: from=t\d/.test(l)));
      const tsElections = nodes.filter((n) => n.kind.lang === 'ts').flatMap((n) => n.logLines('election for term'));
      const tsTransfers = nodes.filter((n) => n.kind.lang === 'ts').flatMap((n) => n.logLines('TimeoutNow: campaigning'));
      console.log(
        `${history.join('\n')}\nacked writes: ${acked.size}; Go candidates granted pre-votes by TS voters: ${goSawTsPreVotes.length}; TS elections after pre-vote: ${tsElections.length - tsTransfers.length}`,
      );
      expect(goSawTsPreVotes.length + (tsElections.length - tsTransfers.length)).toBeGreaterThan(0);
    }, 150_000);
  },
);
