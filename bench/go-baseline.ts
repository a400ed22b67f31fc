/**
 * The Go baseline: hashicorp/raft 1.1.2's own NetworkTransport, Go client ->
 * Go server (test/interop/peer), on the same workloads and interleaved with
 * ours in the same run, so machine load affects both alike. The Go server
 * sets a heartbeat handler too. Go's pipeline window is fixed
 * (rpcMaxPipeline = 128; see test/interop/README.md).
 */
import { spawnSync } from 'node:child_process';
import { buildGoPeer, goAvailable, goEnv, runGoBench, startGoServer, type GoServer } from '../test/interop/go-peer.ts';
import type { RunStats } from './stats.ts';
import type { WorkloadId } from './workloads.ts';

/** Go's pipeline depth in 1.1.2, for plotting and labels. */
export const GO_PIPELINE_WINDOW = 128;

/** Go's numbers as they appear in the results. */
export interface GoRuns {
  version: string;
  sync: Partial<Record<WorkloadId, RunStats>>;
  pipelined: Partial<Record<WorkloadId, RunStats>>;
}

export interface GoBaseline {
  readonly version: string;
  run(id: WorkloadId, mode: 'sync' | 'pipeline', warmup: number, n: number): Promise<RunStats>;
  close(): Promise<void>;
}

/** Why Go can't run here, or undefined when it can. */
export function goUnavailableReason(): string | undefined {
  const a = goAvailable();
  return a.ok ? undefined : a.reason;
}

/** Builds the Go peer (cached by source hash) and starts a Go server with a heartbeat handler. */
export async function startGoBaseline(): Promise<GoBaseline> {
  await buildGoPeer();
  const version = spawnSync('go', ['version'], { encoding: 'utf8', env: goEnv() }).stdout.trim();
  const server: GoServer = await startGoServer({ heartbeat: true });
  return {
    version,
    async run(id, mode, warmup, n) {
      const r = await runGoBench(server.addr, { scenario: id, mode, n, warmup });
      return { n: r.n, seconds: r.seconds, rps: r.rps, mbps: r.mbps, p50us: r.p50us, p99us: r.p99us, maxus: Number.NaN };
    },
    close: async () => {
      await server.close();
    },
  };
}
