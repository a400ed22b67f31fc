/**
 * The Go anchors: hashicorp/raft's own NetworkTransport, Go client -> Go
 * server (test/interop/peer), on the same workload shapes and interleaved
 * with ours in the same run, so machine load affects both alike. The Go
 * server sets a heartbeat handler too.
 *
 * Each anchor is a release and a pipeline window: 1.1.2's window is fixed
 * (rpcMaxPipeline = 128); from 1.5.0 on it is NetworkTransportConfig's
 * MaxRPCsInFlight, default 2 (what a Go user gets), which we also run at our
 * own window. Rows are labelled by release.
 *
 * Go's bench still sends one request over and over (test/interop/peer/bench.go
 * builds it once): its inputs are the "same request" workload, not our ring.
 * That favours Go, so ours-vs-Go ratios err on Go's side.
 *
 * Every release is built from test/interop/peer by test/helpers/go-build.ts
 * (1.5.0 and 1.7.3 from ../shared/upstream-go); `-window` sets
 * MaxRPCsInFlight for 1.5+. Still open (issue 13): a ring of distinct
 * requests in bench.go.
 */
import { spawnSync } from 'node:child_process';
import {
  buildGoPeer,
  GO_VERSIONS,
  goAvailable,
  goEnv,
  runGoBench,
  startGoServer,
  type GoServer,
} from '../test/interop/go-peer.ts';
import type { RunStats } from './stats.ts';
import type { WorkloadId } from './workloads.ts';

export type GoVersion = '1.1.2' | '1.5.0' | '1.7.3';

/** Go 1.1.2's pipeline depth (rpcMaxPipeline), fixed. */
export const GO_112_WINDOW = 128;
/** DefaultMaxRPCsInFlight from 1.5.0 on: the window a Go user gets. */
export const GO_DEFAULT_WINDOW = 2;

/** One Go configuration to measure: a release and, for pipelines, a window. */
export interface GoAnchor {
  version: GoVersion;
  /** The pipeline window (MaxRPCsInFlight); 1.1.2 has only its fixed 128. */
  window: number;
  /** Why this anchor is there, for the report ("default", "our window"). */
  note: string;
}

/** One anchor's numbers as they appear in the results. */
export interface GoAnchorRuns extends GoAnchor {
  /** "Go 1.7.3, window 2 (default)". */
  label: string;
  sync: Partial<Record<WorkloadId, RunStats>>;
  pipelined: Partial<Record<WorkloadId, RunStats>>;
}

/** Everything Go in one run. */
export interface GoRuns {
  /** `go version` output. */
  toolchain: string;
  anchors: GoAnchorRuns[];
  /** Anchors the plan asked for that could not run, with the reason. */
  skipped: Array<{ label: string; reason: string }>;
}

export function anchorLabel(a: GoAnchor): string {
  return `Go ${a.version}, window ${a.window}${a.note ? ` (${a.note})` : ''}`;
}

/** Why `version` can't run yet, or undefined when it can. */
export function goVersionUnwiredReason(version: GoVersion): string | undefined {
  // Every release builds from test/interop/peer (test/helpers/go-build.ts); the
  // upstream trees are checked by goAvailable().
  return (GO_VERSIONS as readonly string[]).includes(version) ? undefined : `Go ${version} has no peer build`;
}

export interface GoBaseline {
  readonly version: GoVersion;
  /** `go version` output. */
  readonly toolchain: string;
  /** The Go server's address (a latency proxy can front it). */
  readonly addr: string;
  /**
   * One Go bench run. `window` is the pipeline's MaxRPCsInFlight (ignored for
   * sync); `target` overrides the server address, e.g. with a latency proxy.
   */
  run(
    id: WorkloadId,
    mode: 'sync' | 'pipeline',
    warmup: number,
    n: number,
    opts?: { window?: number; target?: string },
  ): Promise<RunStats>;
  close(): Promise<void>;
}

/** Why Go can't run here at all, or undefined when it can. */
export function goUnavailableReason(): string | undefined {
  const a = goAvailable();
  return a.ok ? undefined : a.reason;
}

/** Builds the Go peer of `version` (cached by source hash) and starts its server with a heartbeat handler. */
export async function startGoBaseline(opts: { version?: GoVersion } = {}): Promise<GoBaseline> {
  const version = opts.version ?? '1.1.2';
  const unwired = goVersionUnwiredReason(version);
  if (unwired !== undefined) throw new Error(unwired);
  await buildGoPeer(version);
  const toolchain = spawnSync('go', ['version'], { encoding: 'utf8', env: goEnv(version) }).stdout.trim();
  const server: GoServer = await startGoServer({ heartbeat: true, version });
  return {
    version,
    toolchain,
    addr: server.addr,
    async run(id, mode, warmup, n, { window, target } = {}) {
      if (mode === 'pipeline' && version === '1.1.2' && window !== undefined && window !== GO_112_WINDOW) {
        throw new Error(`Go 1.1.2's pipeline window is fixed at ${GO_112_WINDOW}, not ${window}`);
      }
      const r = await runGoBench(target ?? server.addr, {
        scenario: id,
        mode,
        n,
        warmup,
        version,
        window: mode === 'pipeline' && version !== '1.1.2' ? window : undefined,
      });
      return { n: r.n, seconds: r.seconds, rps: r.rps, mbps: r.mbps, p50us: r.p50us, p99us: r.p99us, maxus: Number.NaN };
    },
    close: async () => {
      await server.close();
    },
  };
}

/** The best (highest req/s) Go pipelined or sync run for a workload, with its label. */
export function bestGo(
  go: GoRuns | undefined,
  id: WorkloadId,
  mode: 'sync' | 'pipelined',
): { label: string; stats: RunStats } | undefined {
  let best: { label: string; stats: RunStats } | undefined;
  for (const a of go?.anchors ?? []) {
    const s = a[mode][id];
    if (s !== undefined && (best === undefined || s.rps > best.stats.rps)) {
      best = { label: mode === 'sync' ? `Go ${a.version}` : a.label, stats: s };
    }
  }
  return best;
}
