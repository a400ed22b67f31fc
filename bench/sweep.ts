/**
 * The AppendEntries section: for each workload, its ring of distinct
 * requests is generated (untimed), then our sync run and pipeline sweep run,
 * each paired with the raw ceiling at the same window on the same ring (ABBA
 * rounds, see rounds.ts); one "same request" pair at the reference window;
 * and the Go anchors right beside them. The ring is dropped before the next
 * workload, so the client holds one workload's data at a time.
 */
import type { AppendEntriesRequest } from '../src/commands.ts';
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import { pipelinedRun, syncRun } from './append-bench.ts';
import { anchorLabel, type GoAnchorRuns, type GoBaseline, type GoRuns, type GoVersion } from './go-baseline.ts';
import { pipelinedCounts, type Plan, REFERENCE_WINDOW } from './plan.ts';
import { encodeRing, type FrameRing, rawFrames } from './raw-client.ts';
import type { WorkloadResults } from './results.ts';
import { abba } from './rounds.ts';
import type { RunStats } from './stats.ts';
import { generate, RingCursor, sameRequest, type Workload, type WorkloadSpec } from './workloads.ts';

/** Runs one named step; returns undefined if it failed (the runner records why). */
export type Step = <T>(name: string, fn: () => Promise<T>) => Promise<T | undefined>;

/** The Go side of a sweep: one running baseline per release, and the anchors to measure. */
export interface GoSide {
  baselines: Map<GoVersion, GoBaseline>;
  runs: GoRuns;
}

/** Steps `sweep` takes, for the progress line. */
export function sweepSteps(plan: Plan, ws: WorkloadSpec[], go: GoSide | undefined): number {
  const goSteps = go ? go.baselines.size + go.runs.anchors.length : 0;
  return ws.reduce((n, w) => n + 1 + plan.windows.length + (w.payloadBytes > 0 ? 1 : 0) + goSteps, 0);
}

/** The Go anchors of `plan` that can run with `baselines`; the others go to `skipped` with the reason. */
export function goSide(plan: Plan, baselines: Map<GoVersion, GoBaseline>, reasons: Map<GoVersion, string>): GoSide {
  const toolchain = [...baselines.values()][0]?.toolchain ?? '';
  const runs: GoRuns = { toolchain, anchors: [], skipped: [] };
  for (const a of plan.goAnchors) {
    const label = anchorLabel(a);
    if (baselines.has(a.version)) runs.anchors.push({ ...a, label, sync: {}, pipelined: {} });
    else runs.skipped.push({ label, reason: reasons.get(a.version) ?? 'not started' });
  }
  return { baselines, runs };
}

/** A pair of trials on one workload, ours against raw, at `window` (1: sync); both continue through their rings. */
function oursVsRaw(
  plan: Plan,
  w: Workload,
  cursor: RingCursor<AppendEntriesRequest>,
  frames: FrameRing,
  ours: NetworkTransport,
  ourServer: string,
  rawServer: string,
  window: number,
  warmup: number,
  n: number,
): Promise<{ a: RunStats; b: RunStats }> {
  const run = window === 1 ? syncRun : pipelinedRun;
  return abba(
    plan.rounds,
    warmup,
    n,
    w.payloadBytes,
    (wu, k, lat) => run(ours, ourServer, cursor, wu, k, lat),
    (wu, k, lat) => rawFrames(rawServer, frames, window, wu, k, lat),
  );
}

export async function sweep(
  step: Step,
  plan: Plan,
  specs: WorkloadSpec[],
  ourServer: string,
  rawServer: string,
  go: GoSide | undefined,
  progress: (what: string) => void,
): Promise<WorkloadResults[]> {
  // One client transport per window (maxRPCsInFlight is a transport option);
  // window 1 is the sync client, a transport configured not to pipeline.
  const clients = new Map<number, NetworkTransport>();
  const client = async (window: number): Promise<NetworkTransport> => {
    let c = clients.get(window);
    if (c === undefined) {
      // RAFT_BENCH_PROBE_INTERVAL=MS turns the peer prober on, to measure its overhead.
      const probeInterval = Number(process.env.RAFT_BENCH_PROBE_INTERVAL ?? 0);
      c = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: window, probeInterval, probePeers: [ourServer] });
      clients.set(window, c);
    }
    return c;
  };
  const append: WorkloadResults[] = [];
  try {
    for (const spec of specs) {
      progress(`${spec.label}: generating ${spec.ringSize.toLocaleString('en-US')} distinct requests`);
      const w = generate(spec);
      const frames = encodeRing(w);
      const cursor = new RingCursor(w.ring);
      const counts = plan.counts[w.id];
      const res: WorkloadResults = {
        workload: w.id,
        label: w.label,
        payloadBytes: w.payloadBytes,
        frameBytes: Math.round(frames.bytes / frames.frames.length),
        ringSize: w.ringSize,
        ringBytes: w.ringBytes,
        ours: { pipelined: [] },
        raw: { pipelined: [] },
      };
      append.push(res);
      const sync = await step(`${w.label} sync: ours vs raw ping-pong`, async () =>
        oursVsRaw(plan, w, cursor, frames, await client(1), ourServer, rawServer, 1, counts.warmup, counts.sync),
      );
      if (sync) {
        res.ours.sync = sync.a;
        res.raw.sync = sync.b;
      }
      for (const window of plan.windows) {
        const { warmup, n } = pipelinedCounts(counts, window, plan.rounds);
        const r = await step(`${w.label} pipelined, window ${window}: ours vs raw`, async () =>
          oursVsRaw(plan, w, cursor, frames, await client(window), ourServer, rawServer, window, warmup, n),
        );
        if (r) {
          res.ours.pipelined.push({ window, ...r.a });
          res.raw.pipelined.push({ window, ...r.b });
        }
      }
      if (w.payloadBytes > 0) {
        const same = sameRequest(spec);
        const { warmup, n } = pipelinedCounts(counts, REFERENCE_WINDOW, plan.rounds);
        const r = await step(`${w.label} pipelined, window ${REFERENCE_WINDOW}, same request: ours vs raw`, async () =>
          oursVsRaw(
            plan,
            same,
            new RingCursor(same.ring),
            encodeRing(same),
            await client(REFERENCE_WINDOW),
            ourServer,
            rawServer,
            REFERENCE_WINDOW,
            warmup,
            n,
          ),
        );
        if (r) res.sameRequest = { window: REFERENCE_WINDOW, ours: r.a, raw: r.b };
      }
      if (go) await goRuns(step, plan, w, go);
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
  return append;
}

/** Go's sync run once per release, and each anchor's pipeline. */
async function goRuns(step: Step, plan: Plan, w: WorkloadSpec, go: GoSide): Promise<void> {
  const counts = plan.counts[w.id];
  const syncDone = new Map<GoVersion, RunStats | undefined>();
  for (const [version, baseline] of go.baselines) {
    const r = await step(`${w.label} sync: Go ${version}`, () => baseline.run(w.id, 'sync', counts.warmup, counts.sync));
    syncDone.set(version, r);
  }
  for (const a of go.runs.anchors) {
    const r = syncDone.get(a.version);
    if (r) a.sync[w.id] = r;
  }
  for (const a of go.runs.anchors as GoAnchorRuns[]) {
    const baseline = go.baselines.get(a.version)!;
    const { warmup, n } = pipelinedCounts(counts, a.window);
    const r = await step(`${w.label} pipelined: ${a.label}`, () =>
      baseline.run(w.id, 'pipeline', warmup, n, { window: a.window }),
    );
    if (r) a.pipelined[w.id] = r;
  }
}
