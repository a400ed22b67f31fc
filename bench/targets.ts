/**
 * The performance targets, judged on one run's results. Reported as
 * pass/miss for the lead; they never change the exit code (a busy machine
 * should not fail the job, and this is not a test).
 */
import { REFERENCE_WINDOW } from './plan.ts';
import type { BenchResults, WorkloadResults } from './results.ts';
import type { RunStats } from './stats.ts';

export interface Target {
  name: string;
  status: 'pass' | 'miss' | 'n/a';
  /** The measured value against the bound, in words. */
  detail: string;
}

const MiB = 1024 * 1024;
const fmt = (x: number, digits = 0): string =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function atWindow(w: WorkloadResults | undefined, window: number): RunStats | undefined {
  return w?.ours.pipelined.find((p) => p.window === window);
}

/** `actual / base >= min`, or n/a when either side is missing. */
function ratioTarget(name: string, actual: number | undefined, base: number | undefined, min: number, what: string): Target {
  if (actual === undefined || base === undefined || !(base > 0)) return { name, status: 'n/a', detail: `not measured (${what})` };
  const r = actual / base;
  return { name, status: r >= min ? 'pass' : 'miss', detail: `${fmt(r, 2)}× (${what}: ${fmt(actual, 1)} vs ${fmt(base, 1)})` };
}

export function evaluateTargets(r: BenchResults): Target[] {
  const byId = (id: string): WorkloadResults | undefined => r.append.find((w) => w.workload === id);
  const small = byId('128b');
  const kib = byId('64x1k');
  const win = `window ${REFERENCE_WINDOW}`;
  const out: Target[] = [
    ratioTarget(
      'pipelined 1×128 B ≥ 4× Go pipelined',
      atWindow(small, REFERENCE_WINDOW)?.rps,
      r.go?.pipelined['128b']?.rps,
      4,
      `req/s, ours at ${win}`,
    ),
    ratioTarget(
      'pipelined 1×128 B ≥ 10× our sync',
      atWindow(small, REFERENCE_WINDOW)?.rps,
      small?.ours.sync?.rps,
      10,
      `req/s, ${win}`,
    ),
    ratioTarget(
      'pipelined 64×1 KiB ≥ 2.5× Go MB/s',
      atWindow(kib, REFERENCE_WINDOW)?.mbps,
      r.go?.pipelined['64x1k']?.mbps,
      2.5,
      `MB/s, ours at ${win}`,
    ),
    ratioTarget('sync 1×128 B ≥ 0.9× raw ping-pong', small?.ours.sync?.rps, small?.raw.sync?.rps, 0.9, 'req/s'),
  ];

  const snap = r.snapshot?.ours;
  out.push(
    snap === undefined
      ? { name: 'snapshot ≥ 1 GB/s', status: 'n/a', detail: 'not measured' }
      : { name: 'snapshot ≥ 1 GB/s', status: snap.mbps >= 1000 ? 'pass' : 'miss', detail: `${fmt(snap.mbps)} MB/s` },
  );
  if (snap === undefined) {
    out.push({ name: 'snapshot RSS growth ≤ 64 MiB', status: 'n/a', detail: 'not measured' });
  } else {
    const worst = Math.max(snap.clientRss.growth, snap.serverRss.growth);
    out.push({
      name: 'snapshot RSS growth ≤ 64 MiB',
      status: worst <= 64 * MiB ? 'pass' : 'miss',
      detail: `client +${fmt(snap.clientRss.growth / MiB, 1)} MiB, server +${fmt(snap.serverRss.growth / MiB, 1)} MiB`,
    });
  }
  const idle = r.isolation?.phases.find((p) => p.load === 'none')?.heartbeats;
  const loaded = r.isolation?.phases.find((p) => p.load === 'both')?.heartbeats;
  out.push(
    loaded === undefined
      ? { name: 'heartbeat p99 ≤ 2 ms under load', status: 'n/a', detail: 'not measured' }
      : {
          name: 'heartbeat p99 ≤ 2 ms under load',
          status: loaded.p99us <= 2000 ? 'pass' : 'miss',
          detail: `${fmt(loaded.p99us / 1000, 2)} ms with pipeline + snapshot, ${fmt((idle?.p99us ?? NaN) / 1000, 2)} ms idle`,
        },
  );
  return out;
}
