/**
 * Issue 12, scenario 6: older Go peers (Debian's hashicorp/raft 1.1.2 and
 * v1.5.0) in a cluster with the TypeScript Raft, and 1.7.3 as the baseline
 * for the pre-vote and AppendedAt rows of the README's compatibility table.
 */
import { describe, expect, it } from 'vitest';

import type { GoRaftVersion } from '../../helpers/go-build.ts';
import { GO_VERSIONS } from '../../helpers/go-build.ts';
import {
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
  waitConverged,
  waitLeader,
  waitValues,
} from './cluster-harness.ts';

const skip = mixedSuite(GO_VERSIONS);

async function writeKeys(http: string, prefix: string, n: number): Promise<Map<string, string>> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const ok = await mapLimit(keys, 16, (k, i) => put(http, k, `${prefix}-value-${i}`));
  expect(ok.filter((x) => !x)).toEqual([]);
  return new Map(keys.map((k, i) => [k, `${prefix}-value-${i}`]));
}

/** Go timeouts far beyond the test's run, so only the TS node can start an election. */
const PATIENT_GO = ['--heartbeat-timeout', '30s', '--election-timeout', '30s', '--leader-lease-timeout', '500ms'];

describe.skipIf(skip !== undefined)(`Older Go peers${skip ? ` — skipped: ${skip}` : ''}`, () => {
  for (const version of ['1.1.2', '1.5.0'] as const satisfies readonly GoRaftVersion[]) {
    it(`scenario 6, ${version}: replication both ways, leadership transfer to TS, elections after kill -9, AppendedAt as this version decodes it`, async () => {
      const g1 = new MixedNode('g1', go(version));
      const g2 = new MixedNode('g2', go(version));
      const t1 = new MixedNode('t1', ts, [...TEST_TIMING, '--data', tempDir()]);
      const nodes = [g1, g2, t1];
      expect((await formCluster(nodes)).id).toBe('g1'); // Go leader, AddVoter of the TS node
      const fromGo = await writeKeys(g1.http, 'g', 100);
      await waitValues(nodes, fromGo);

      expect((await post(g1.http, '/transfer', { id: 't1' })).status).toBe(204); // TimeoutNow from an old Go leader
      expect((await waitLeader(nodes)).id).toBe('t1');
      const t0 = Date.now();
      const fromTs = await writeKeys(g2.http, 't', 100); // redirected to the TS leader
      const tEnd = Date.now();
      await waitValues(nodes, fromTs);
      await waitConverged(nodes);
      const at = (await g1.status())!.lastAppendedAt;
      if (version === '1.1.2') {
        expect(at).toBeNull(); // no Log.AppendedAt in 1.1.2: the field we send is skipped
      } else {
        // 1.5.0 decodes our binary-format time (time.MarshalBinary, what go-msgpack 0.5.5 expects)
        expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(t0 - 1);
        expect(Date.parse(at ?? '')).toBeLessThanOrEqual(tEnd + 1);
      }

      // elections: the TS leader dies, a Go node takes over; it comes back from --data and follows
      await t1.kill9();
      const goLeader = await waitLeader(nodes, { not: 't1' });
      await t1.start();
      await waitConverged(nodes);
      // the Go leader dies: a new leader from the remaining Go node and the TS node
      await goLeader.kill9();
      const next = await waitLeader(nodes, { not: goLeader.id });
      const last = await writeKeys(next.http, 'e', 20);
      await waitValues(
        nodes.filter((n) => n.running),
        new Map([...fromGo, ...fromTs, ...last]),
      );
    }, 90_000);
  }

  for (const version of ['1.1.2', '1.5.0', '1.7.3'] as const satisfies readonly GoRaftVersion[]) {
    it(`scenario 6, ${version}: a TS candidate's pre-vote ${version === '1.7.3' ? 'is answered' : 'meets a dropped connection and falls back to a normal election'}, won at the next term`, async () => {
      const t1 = new MixedNode('t1', ts, [...TEST_TIMING, '--data', tempDir()]);
      const g1 = new MixedNode('g1', go(version), PATIENT_GO);
      const g2 = new MixedNode('g2', go(version), PATIENT_GO);
      const nodes = [t1, g1, g2];
      expect((await formCluster(nodes)).id).toBe('t1');
      const term = (await t1.status())!.term;
      const marks = [g1.log.length, g2.log.length];

      // t1 restarts on the same address: the Go followers still take it as leader, so only t1 campaigns
      await t1.kill9();
      await t1.start();
      expect((await waitLeader(nodes)).id).toBe('t1');
      for (const n of nodes) expect((await n.status())!.term).toBe(term + 1); // no stall, no extra rounds
      expect(t1.logLines('pre-vote for term', 'lost')).toEqual([]);
      for (const [i, g] of [g1, g2].entries()) {
        if (version === '1.7.3') {
          expect(
            g.logLinesSince(marks[i]!, 'received a requestPreVote with a newer term, grant the pre-vote').length,
          ).toBeGreaterThan(0);
        } else {
          // RPC type 4 is unknown before 1.7: the Go transport logs it and drops the connection
          expect(g.logLinesSince(marks[i]!, 'unknown rpc type 4').length).toBeGreaterThan(0);
        }
      }
      await waitValues(nodes, await writeKeys(g1.http, 'p', 20));
    }, 60_000);
  }
});
