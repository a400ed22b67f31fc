/**
 * The AppendEntries section: for each workload, our sync run and pipeline
 * sweep, each paired with the raw ceiling at the same window (ABBA rounds,
 * see rounds.ts), and Go's sync and pipelined runs right beside them.
 */
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import { pipelinedRun, syncRun } from './append-bench.ts';
import type { GoBaseline, GoRuns } from './go-baseline.ts';
import { GO_PIPELINE_WINDOW } from './go-baseline.ts';
import { pipelinedCounts, type Plan } from './plan.ts';
import { encodeFrame, rawFrames } from './raw-client.ts';
import type { WorkloadResults } from './results.ts';
import { abba } from './rounds.ts';
import type { Workload } from './workloads.ts';

/** Runs one named step; returns undefined if it failed (the runner records why). */
export type Step = <T>(name: string, fn: () => Promise<T>) => Promise<T | undefined>;

/** Steps `sweep` takes, for the progress line. */
export function sweepSteps(plan: Plan, workloads: number, go: boolean): number {
  return workloads * (1 + plan.windows.length + (go ? 2 : 0));
}

export async function sweep(
  step: Step,
  plan: Plan,
  ws: Workload[],
  ourServer: string,
  rawServer: string,
  go: GoBaseline | undefined,
): Promise<{ append: WorkloadResults[]; go?: GoRuns }> {
  // One client transport per window (maxRPCsInFlight is a transport option);
  // window 1 is the sync client, a transport configured not to pipeline.
  const clients = new Map<number, NetworkTransport>();
  const client = async (window: number): Promise<NetworkTransport> => {
    let c = clients.get(window);
    if (c === undefined) {
      c = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: window });
      clients.set(window, c);
    }
    return c;
  };
  const append: WorkloadResults[] = [];
  const goRuns: GoRuns | undefined = go && { version: go.version, sync: {}, pipelined: {} };
  try {
    for (const w of ws) {
      const counts = plan.counts[w.id];
      const frame = encodeFrame(w.request);
      const res: WorkloadResults = {
        workload: w.id,
        label: w.label,
        payloadBytes: w.payloadBytes,
        frameBytes: frame.length,
        ours: { pipelined: [] },
        raw: { pipelined: [] },
      };
      append.push(res);
      const sync = await step(`${w.label} sync: ours vs raw ping-pong`, async () => {
        const c = await client(1);
        return abba(
          plan.rounds,
          counts.warmup,
          counts.sync,
          w.payloadBytes,
          (warmup, n, lat) => syncRun(c, ourServer, w, warmup, n, lat),
          (warmup, n, lat) => rawFrames(rawServer, frame, 1, warmup, n, lat),
        );
      });
      if (sync) {
        res.ours.sync = sync.a;
        res.raw.sync = sync.b;
      }
      if (go && goRuns) {
        const r = await step(`${w.label} sync: Go`, () => go.run(w.id, 'sync', counts.warmup, counts.sync));
        if (r) goRuns.sync[w.id] = r;
      }
      for (const window of plan.windows) {
        const { warmup, n } = pipelinedCounts(counts, window, plan.rounds);
        const r = await step(`${w.label} pipelined, window ${window}: ours vs raw`, async () => {
          const c = await client(window);
          return abba(
            plan.rounds,
            warmup,
            n,
            w.payloadBytes,
            (wu, k, lat) => pipelinedRun(c, ourServer, w, wu, k, lat),
            (wu, k, lat) => rawFrames(rawServer, frame, window, wu, k, lat),
          );
        });
        if (r) {
          res.ours.pipelined.push({ window, ...r.a });
          res.raw.pipelined.push({ window, ...r.b });
        }
      }
      if (go && goRuns) {
        const { warmup, n } = pipelinedCounts(counts, GO_PIPELINE_WINDOW);
        const r = await step(`${w.label} pipelined: Go`, () => go.run(w.id, 'pipeline', warmup, n));
        if (r) goRuns.pipelined[w.id] = r;
      }
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
  return goRuns ? { append, go: goRuns } : { append };
}
