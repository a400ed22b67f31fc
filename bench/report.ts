/** The human-readable report: tables with ratios, the machine, and the targets. */
import { GO_PIPELINE_WINDOW } from './go-baseline.ts';
import type { BenchResults, Sweep } from './results.ts';
import type { RunStats } from './stats.ts';

const MiB = 1024 * 1024;

function num(x: number | undefined, digits = 0): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || !(b > 0) ? '-' : `${num(a / b, 2)}×`;
}

/** Right-aligns every column but the first `left` ones; a '│' cell draws a separator. */
function table(head: string[], rows: string[][], left = 2): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < left ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

function sweepRows(s: Sweep): Array<{ mode: string; window: number; stats: RunStats | undefined }> {
  return [
    { mode: 'sync', window: 1, stats: s.sync },
    ...s.pipelined.map((p) => ({ mode: 'pipelined', window: p.window, stats: p })),
  ];
}

function appendSection(r: BenchResults): string[] {
  const head = [
    'workload',
    'mode',
    'window',
    'req/s',
    'MB/s',
    'p50 µs',
    'p99 µs',
    '×sync',
    '│',
    'raw req/s',
    '×raw',
    '│',
    'Go req/s',
    '×Go',
  ];
  const rows: string[][] = [];
  for (const w of r.append) {
    const raws = sweepRows(w.raw);
    sweepRows(w.ours).forEach(({ mode, window, stats }, i) => {
      const raw = raws.find((x) => x.mode === mode && x.window === window)?.stats;
      const go = mode === 'sync' ? r.go?.sync[w.workload] : r.go?.pipelined[w.workload];
      rows.push([
        i === 0 ? w.label : '',
        mode,
        String(window),
        num(stats?.rps),
        w.payloadBytes > 0 ? num(stats?.mbps, 1) : '-',
        num(stats?.p50us),
        num(stats?.p99us),
        ratio(stats?.rps, w.ours.sync?.rps),
        '│',
        num(raw?.rps),
        ratio(stats?.rps, raw?.rps),
        '│',
        num(go?.rps),
        ratio(stats?.rps, go?.rps),
      ]);
    });
  }
  return [
    'AppendEntries over TCP 127.0.0.1, client and server in separate processes',
    ...table(head, rows),
    'window = maxRPCsInFlight; latency runs from the call to the response (pipelined: to the future being consumed)',
    'raw = the same request bytes pre-encoded once, 1-byte acks, no codec on either side: the ceiling',
    r.go
      ? `Go = hashicorp/raft 1.1.2 NetworkTransport, Go client -> Go server; its pipeline window is fixed (${GO_PIPELINE_WINDOW})`
      : `Go = skipped: ${r.goSkipped ?? 'not run'}`,
  ];
}

function snapshotSection(r: BenchResults): string[] {
  const s = r.snapshot;
  if (s === undefined) return [];
  const out = [
    `InstallSnapshot, ${num((s.ours?.bytes ?? s.raw?.bytes ?? 0) / MiB)} MiB streamed from a generator in 64 KiB chunks`,
  ];
  if (s.ours) {
    out.push(
      `  ours  ${num(s.ours.mbps).padStart(6)} MB/s   peak RSS growth: client +${num(s.ours.clientRss.growth / MiB, 1)} MiB, ` +
        `server +${num(s.ours.serverRss.growth / MiB, 1)} MiB (sampled every 10 ms)`,
    );
  }
  if (s.raw)
    out.push(
      `  raw   ${num(s.raw.mbps).padStart(6)} MB/s   bulk one-way bytes, the ceiling; ours/raw ${ratio(s.ours?.mbps, s.raw.mbps)}`,
    );
  return out;
}

const LOAD_NAMES = { none: 'idle link', pipeline: 'pipeline', snapshot: 'snapshots', both: 'pipeline + snapshots' } as const;

function isolationSection(r: BenchResults): string[] {
  const i = r.isolation;
  if (i === undefined) return [];
  const rows = i.phases.map((p) => [
    LOAD_NAMES[p.load],
    num(p.heartbeats.n),
    num(p.heartbeats.p50us),
    num(p.heartbeats.p99us),
    num(p.heartbeats.maxus),
    '│',
    p.pipelineRps > 0 ? num(p.pipelineMbps) : '-',
    num(p.pipelineLatency?.p50us),
    num(p.pipelineLatency?.p99us),
    p.snapshotMbps > 0 ? num(p.snapshotMbps) : '-',
    '│',
    num(p.clientLoopDelay.p99us),
    num(p.serverLoopDelay.p99us),
  ]);
  return [
    `Heartbeat isolation: heartbeats via transport.appendEntries every ${i.intervalMs} ms while the load runs flat out`,
    `on the same client transport to the same server (pipeline: 64×1 KiB; snapshots: back-to-back ${num(i.snapshotSize / MiB)} MiB)`,
    ...table(
      [
        'load',
        'n',
        'hb p50 µs',
        'hb p99 µs',
        'hb max µs',
        '│',
        'pipe MB/s',
        'pipe p50 µs',
        'pipe p99 µs',
        'snap MB/s',
        '│',
        'client lag',
        'server lag',
      ],
      rows,
      1,
    ).map((l) => `  ${l}`),
    "  hb = heartbeat round trip; pipe p50/p99 = a pipelined request's own latency, what a heartbeat queued behind it would see;",
    "  lag = p99 event-loop delay in µs: the share of a heartbeat's wait that is a saturated process, not transport queueing",
  ];
}

function inmemSection(r: BenchResults): string[] {
  if (r.inmem === undefined) return [];
  return [
    'InmemTransport (bench/inmem.ts, one process, 1×128 B)',
    ...r.inmem.map((x) => `  ${x.mode.padEnd(10)} ${num(x.rps).padStart(10)} RPC/s`),
  ];
}

export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const load = `load avg ${num(m.loadavgStart, 2)} -> ${num(m.loadavgEnd, 2)}`;
  const parts: string[][] = [
    [
      `raft-transport benchmark${r.quick ? ' (--quick)' : ''}: ${r.startedAt}, took ${num(r.durationSeconds)} s`,
      `machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}${m.go ? `, ${m.go}` : ''}, ${m.platform}; ${load}`,
    ],
    appendSection(r),
    snapshotSection(r),
    isolationSection(r),
    inmemSection(r),
    ['targets', ...r.targets.map((t) => `  ${t.status.toUpperCase().padEnd(4)}  ${t.name.padEnd(36)} ${t.detail}`)],
  ];
  if (r.errors.length > 0) {
    parts.push(['FAILED', ...r.errors.map((e) => `  ${e.scenario}: ${e.message}`)]);
  }
  return `${parts
    .filter((p) => p.length > 0)
    .map((p) => p.join('\n'))
    .join('\n\n')}\n`;
}
