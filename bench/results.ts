/** The shape of bench/results/latest.json and of `--json` output. */
import type { GoRuns } from './go-baseline.ts';
import type { InmemResult } from './inmem.ts';
import type { IsolationStats } from './isolation-bench.ts';
import type { LatencyResults } from './latency-bench.ts';
import type { Machine } from './machine.ts';
import type { SnapshotStats } from './snapshot-bench.ts';
import type { ScenarioError } from './runner.ts';
import type { RunStats } from './stats.ts';
import type { Target } from './targets.ts';
import type { WorkloadId } from './workloads.ts';

export interface WindowStats extends RunStats {
  window: number;
}

/** One client's synchronous run and pipeline sweep for one workload. */
export interface Sweep {
  sync?: RunStats;
  pipelined: WindowStats[];
}

export interface WorkloadResults {
  workload: WorkloadId;
  label: string;
  /** Entry Data bytes per request. */
  payloadBytes: number;
  /** Mean bytes our transport writes per request (type byte + msgpack map): the raw baseline's frames. */
  frameBytes: number;
  /** Distinct requests in the workload's ring, and their entry data in bytes (see workloads.ts). */
  ringSize: number;
  ringBytes: number;
  ours: Sweep;
  raw: Sweep;
  /** One request sent over and over at `window`: what the cache and the JIT hide, and what Go's bench sends. */
  sameRequest?: { window: number; ours: RunStats; raw: RunStats };
}

export interface BenchResults {
  schema: 2;
  startedAt: string;
  durationSeconds: number;
  quick: boolean;
  machine: Machine;
  windows: number[];
  append: WorkloadResults[];
  /** Absent when Go was skipped; see goSkipped. */
  go?: GoRuns;
  latency?: LatencyResults;
  goSkipped?: string;
  snapshot?: { ours?: SnapshotStats; raw?: { bytes: number; seconds: number; mbps: number } };
  isolation?: IsolationStats;
  inmem?: InmemResult[];
  targets: Target[];
  /** Scenarios that failed; any entry makes the process exit non-zero. */
  errors: ScenarioError[];
}
