/**
 * The performance targets, judged on one run's results. Reported as
 * pass/miss for the lead; they never change the exit code (a busy machine
 * should not fail the job, and this is not a test).
 */
import { bestGo } from './go-baseline.ts';
import { idealRps, point } from './latency-bench.ts';
import { REFERENCE_WINDOW } from './plan.ts';
import type { BenchResults, WorkloadResults } from './results.ts';
import type { RunStats } from './stats.ts';

export interface Target {
  name: string;
  status: 'pass' | 'miss' | 'n/a';
  /** The measured value against the bound, in words. */
  detail: string;
  /** Where the target comes from: issue 13's list, or earlier issues still tracked. */
  group?: 'issue 13' | 'earlier';
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

/** The latency target: at 5 ms one-way, every pipelined window up to 64 within 0.8× of its bandwidth-delay ideal. */
function latencyTarget(r: BenchResults): Target {
  const name = 'at 5 ms one-way, pipelined ≥ 0.8× ideal (windows ≤ 64)';
  const l = r.latency;
  if (l === undefined) return { name, status: 'n/a', detail: 'not measured (the latency section did not run)' };
  if (!l.delaysMs.includes(5)) return { name, status: 'n/a', detail: `no 5 ms delay in this run (${l.delaysMs.join(', ')} ms)` };
  const parts: string[] = [];
  let worst = Number.POSITIVE_INFINITY;
  for (const window of l.windows.filter((w) => w > 1 && w <= 64)) {
    const ours = point(l, 5, window)?.ours?.rps;
    const ideal = idealRps(l, 'ours', 5, window);
    if (ours === undefined || ideal === undefined) {
      parts.push(`${window}: -`);
      worst = Number.NaN;
      continue;
    }
    worst = Math.min(worst, ours / ideal);
    parts.push(`${window}: ${fmt(ours / ideal, 2)}×`);
  }
  if (!Number.isFinite(worst)) return { name, status: 'n/a', detail: `incomplete (window: ratio) ${parts.join(', ')}` };
  return {
    name,
    status: worst >= 0.8 ? 'pass' : 'miss',
    detail: `worst ${fmt(worst, 2)}× (window: ours/ideal) ${parts.join(', ')}`,
  };
}

export function evaluateTargets(r: BenchResults): Target[] {
  const byId = (id: string): WorkloadResults | undefined => r.append.find((w) => w.workload === id);
  const small = byId('128b');
  const kib = byId('64x1k');
  const win = `window ${REFERENCE_WINDOW}`;
  const bestKib = bestGo(r.go, '64x1k', 'pipelined');
  const snap = r.snapshot?.ours;
  const snapName = 'snapshot ≥ 1 GB/s in the full run';
  const idle = r.isolation?.phases.find((p) => p.load === 'none')?.heartbeats;
  const both = r.isolation?.phases.find((p) => p.load === 'both');
  const rawBoth = r.isolation?.raw.find((p) => p.load === 'both');
  const loaded = both?.heartbeats;
  const carried = (p: typeof both): string => (p === undefined ? '' : ` (${fmt(p.pipelineMbps)} + ${fmt(p.snapshotMbps)} MB/s)`);
  const hbName = 'heartbeat p99 ≤ 2 ms under pipeline + snapshots';

  // Issue 13's targets, in its order.
  const out: Target[] = [
    ratioTarget('sync 1×128 B ≥ 0.9× raw ping-pong', small?.ours.sync?.rps, small?.raw.sync?.rps, 0.9, 'req/s'),
    ratioTarget(
      'pipelined 64×1 KiB ≥ 2.5× the better Go (MB/s)',
      atWindow(kib, REFERENCE_WINDOW)?.mbps,
      bestKib?.stats.mbps,
      2.5,
      `MB/s, ours at ${win} vs ${bestKib?.label ?? 'Go'}`,
    ),
    snap === undefined
      ? { name: snapName, status: 'n/a', detail: 'not measured' }
      : {
          name: snapName,
          status: snap.mbps >= 1000 ? 'pass' : 'miss',
          detail: `${fmt(snap.mbps)} MB/s${r.quick ? ' (--quick: judge on the full run)' : ''}`,
        },
    loaded === undefined
      ? { name: hbName, status: 'n/a', detail: 'not measured' }
      : {
          name: hbName,
          status: loaded.p99us <= 2000 ? 'pass' : 'miss',
          detail:
            `${fmt(loaded.p99us / 1000, 2)} ms with pipeline + snapshot${carried(both)}, ` +
            `${fmt((idle?.p99us ?? NaN) / 1000, 2)} ms idle; raw under raw load ` +
            `${fmt((rawBoth?.heartbeats.p99us ?? NaN) / 1000, 2)} ms${carried(rawBoth)}`,
        },
    latencyTarget(r),
  ];
  for (const t of out) t.group = 'issue 13';

  // Earlier targets, still tracked.
  const bestSmall = bestGo(r.go, '128b', 'pipelined');
  const earlier: Target[] = [
    ratioTarget(
      'pipelined 1×128 B ≥ 4× the better Go',
      atWindow(small, REFERENCE_WINDOW)?.rps,
      bestSmall?.stats.rps,
      4,
      `req/s, ours at ${win} vs ${bestSmall?.label ?? 'Go'}`,
    ),
    ratioTarget(
      'pipelined 1×128 B ≥ 10× our sync',
      atWindow(small, REFERENCE_WINDOW)?.rps,
      small?.ours.sync?.rps,
      10,
      `req/s, ${win}`,
    ),
  ];
  if (snap === undefined) {
    earlier.push({ name: 'snapshot RSS growth ≤ 64 MiB', status: 'n/a', detail: 'not measured' });
  } else {
    const worst = Math.max(snap.clientRss.growth, snap.serverRss.growth);
    earlier.push({
      name: 'snapshot RSS growth ≤ 64 MiB',
      status: worst <= 64 * MiB ? 'pass' : 'miss',
      detail: `client +${fmt(snap.clientRss.growth / MiB, 1)} MiB, server +${fmt(snap.serverRss.growth / MiB, 1)} MiB`,
    });
  }
  for (const t of earlier) t.group = 'earlier';
  return [...out, ...earlier];
}
