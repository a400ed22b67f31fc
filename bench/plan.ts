/**
 * How much of everything to run. Fixed request counts per workload, sized so
 * each timed run lasts roughly a second on a 2-core machine (--quick: a
 * fifth, and no 512 window), which keeps the full run to a few minutes
 * (about 3.5 on an idle 2-core machine by section estimates, the latency
 * section about one of them).
 * Counts, not durations: every run moves a known number of requests, like
 * the Go bench.
 */
import { GO_112_WINDOW, GO_DEFAULT_WINDOW, type GoAnchor } from './go-baseline.ts';
import type { IsolationPlan } from './isolation-bench.ts';
import type { WorkloadId } from './workloads.ts';

export interface Counts {
  warmup: number;
  /** Timed synchronous requests. */
  sync: number;
  /** Timed pipelined requests (per window). */
  pipelined: number;
}

export interface Plan {
  quick: boolean;
  /** In-flight limits (maxRPCsInFlight) of the pipeline sweep. 64 is the transport's default. */
  windows: number[];
  counts: Record<WorkloadId, Counts>;
  /** ABBA rounds per ours-vs-raw comparison (see rounds.ts); each side gets this many shares of the count. */
  rounds: number;
  snapshotSize: number;
  isolation: IsolationPlan;
  inmemN: number;
  /** The Go configurations to run beside ours (see go-baseline.ts). */
  goAnchors: GoAnchor[];
  latency: LatencyPlan;
}

/** The --latency section: a window sweep through a delaying proxy (see latency-bench.ts). */
export interface LatencyPlan {
  workload: WorkloadId;
  /** One-way delays in ms; 0 is the proxy alone, the no-latency reference every ideal is capped by. */
  delaysMs: number[];
  /** 1 is the synchronous client. */
  windows: number[];
  /** Counts at delay 0, where the run is the cap of every ideal and needs as many requests as the append section. */
  noDelay: Counts;
  /** Timed requests per (delay > 0, window): at least `minN`, and `perWindow` × window. */
  minN: number;
  perWindow: number;
  rounds: number;
}

/** The sweep point compared with Go: the same nominal depth as Go's rpcMaxPipeline. */
export const REFERENCE_WINDOW = 128;

const MiB = 1024 * 1024;

export function makePlan(quick: boolean): Plan {
  const scale = quick ? 0.2 : 1;
  const counts = (sync: number, pipelined: number): Counts => ({
    warmup: Math.max(50, Math.round((sync * scale) / 10)),
    sync: Math.round(sync * scale),
    pipelined: Math.round(pipelined * scale),
  });
  return {
    quick,
    windows: quick ? [2, 8, 32, 64, 128] : [2, 8, 32, 64, 128, 512],
    counts: {
      heartbeat: counts(20_000, 200_000),
      '128b': counts(20_000, 200_000),
      '64x1k': counts(5_000, 30_000),
      '256x4k': counts(500, 2_000),
    },
    rounds: 2,
    snapshotSize: quick ? 64 * MiB : 256 * MiB,
    isolation: { heartbeats: quick ? 300 : 1_000, intervalMs: 1, snapshotSize: 64 * MiB },
    inmemN: quick ? 100_000 : 200_000,
    goAnchors: [
      { version: '1.1.2', window: GO_112_WINDOW, note: 'fixed' },
      { version: '1.7.3', window: GO_DEFAULT_WINDOW, note: 'default' },
      { version: '1.7.3', window: REFERENCE_WINDOW, note: 'our window' },
    ],
    latency: {
      workload: '64x1k',
      delaysMs: quick ? [0, 0.5, 5] : [0, 0.5, 1, 2, 5],
      windows: [1, 2, 8, 32, 64, 128],
      noDelay: quick ? { warmup: 100, sync: 1_000, pipelined: 3_000 } : { warmup: 300, sync: 2_000, pipelined: 6_000 },
      minN: quick ? 40 : 100,
      perWindow: quick ? 8 : 16,
      rounds: quick ? 1 : 2,
    },
  };
}

/**
 * A pipelined run's counts at `window`, in total over `rounds`: each round's
 * warm-up fills the window at least once and its timed part spans at least
 * four windows, so a deep window isn't measured by its first burst alone.
 */
export function pipelinedCounts(c: Counts, window: number, rounds = 1): { warmup: number; n: number } {
  return { warmup: Math.max(c.warmup, window), n: Math.max(c.pipelined, 4 * window * rounds) };
}
