/** The human-readable report: tables with ratios, the machine, and the targets. */
import { bestGo } from './go-baseline.ts';
import { idealRps, measuredRttMs, nominalRttMs, point } from './latency-bench.ts';
import type { IsolationPhase } from './isolation-bench.ts';
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
  const row = (
    label: string,
    mode: string,
    window: number,
    stats: RunStats | undefined,
    syncRps: number | undefined,
    raw: RunStats | undefined,
    go: RunStats | undefined,
    payload: number,
  ): string[] => [
    label,
    mode,
    String(window),
    num(stats?.rps),
    payload > 0 ? num(stats?.mbps, 1) : '-',
    num(stats?.p50us),
    num(stats?.p99us),
    ratio(stats?.rps, syncRps),
    '│',
    num(raw?.rps),
    ratio(stats?.rps, raw?.rps),
    '│',
    num(go?.rps),
    ratio(stats?.rps, go?.rps),
  ];
  for (const w of r.append) {
    const raws = sweepRows(w.raw);
    const goSync = bestGo(r.go, w.workload, 'sync')?.stats;
    const goPipe = bestGo(r.go, w.workload, 'pipelined')?.stats;
    sweepRows(w.ours).forEach(({ mode, window, stats }, i) => {
      const raw = raws.find((x) => x.mode === mode && x.window === window)?.stats;
      rows.push(
        row(
          i === 0 ? w.label : '',
          mode,
          window,
          stats,
          w.ours.sync?.rps,
          raw,
          mode === 'sync' ? goSync : goPipe,
          w.payloadBytes,
        ),
      );
    });
    const same = w.sameRequest;
    if (same) rows.push(row('', 'same req', same.window, same.ours, w.ours.sync?.rps, same.raw, goPipe, w.payloadBytes));
  }
  const rings = r.append
    .filter((w) => w.ringSize > 1)
    .map((w) => `${w.label} ${num(w.ringSize)}${w.ringBytes > 0 ? ` (${num(w.ringBytes / MiB)} MiB)` : ''}`)
    .join(', ');
  return [
    'AppendEntries over TCP 127.0.0.1, client and server in separate processes',
    ...table(head, rows),
    'window = maxRPCsInFlight; latency runs from the call to the response (pipelined: to the future being consumed)',
    `requests: rings of distinct pre-generated requests (distinct entry data, advancing indexes and terms), walked in order: ${rings}`,
    "same req = one request sent over and over, as before: what the cache and the JIT hid, and what Go's bench sends",
    'raw = the same request bytes pre-encoded before timing, 1-byte acks, no codec on either side: the ceiling',
    r.go
      ? '×Go = against the best Go anchor of that mode (see the Go anchors below)'
      : `Go = skipped: ${r.goSkipped ?? 'not run'}`,
  ];
}

function goSection(r: BenchResults): string[] {
  const g = r.go;
  if (g === undefined) return [];
  const rows: string[][] = [];
  for (const a of g.anchors) {
    for (const w of r.append) {
      for (const mode of ['sync', 'pipelined'] as const) {
        const s = a[mode][w.workload];
        if (s === undefined) continue;
        const window = mode === 'sync' ? 1 : a.window;
        const ours = mode === 'sync' ? w.ours.sync : w.ours.pipelined.find((p) => p.window === window);
        rows.push([
          mode === 'sync' ? `Go ${a.version}` : a.label,
          w.label,
          mode,
          num(s.rps),
          w.payloadBytes > 0 ? num(s.mbps, 1) : '-',
          num(s.p50us),
          num(s.p99us),
          '│',
          num(ours?.rps),
          ratio(ours?.rps, s.rps),
        ]);
      }
    }
  }
  return [
    `Go anchors: hashicorp/raft NetworkTransport, Go client -> Go server (${g.toolchain})`,
    ...table(['anchor', 'workload', 'mode', 'req/s', 'MB/s', 'p50 µs', 'p99 µs', '│', 'ours req/s', 'ours/Go'], rows, 3).map(
      (l) => `  ${l}`,
    ),
    "  ours = our ring run at the same window; Go's bench sends one request over and over (its inputs are not a ring yet)",
    ...g.skipped.map((s) => `  not run: ${s.label}: ${s.reason}`),
  ];
}

function latencySection(r: BenchResults): string[] {
  const l = r.latency;
  if (l === undefined) return [];
  const out = [
    `Latency: ${l.label} AppendEntries through a delaying TCP proxy (own process, per-direction FIFO, bounded memory)`,
  ];
  for (const d of l.delaysMs) {
    const rows: string[][] = [];
    for (const window of l.windows) {
      const p = point(l, d, window);
      const ideal = idealRps(l, 'ours', d, window);
      const rawIdeal = idealRps(l, 'raw', d, window);
      const goP = l.go.find((g) => g.delayMs === d && g.window === window);
      rows.push([
        window === 1 ? 'sync' : String(window),
        num(p?.ours?.rps),
        num(p?.ours?.mbps, 1),
        num(p?.ours?.p50us),
        num(ideal === undefined ? undefined : (ideal * l.payloadBytes) / 1e6, 1),
        ratio(p?.ours?.rps, ideal),
        '│',
        num(p?.raw?.mbps, 1),
        ratio(p?.raw?.rps, rawIdeal),
        '│',
        goP ? `${num(goP.stats.mbps, 1)} (${goP.label.replace(/,.*$/, '')})` : '',
      ]);
    }
    out.push(
      `  one-way ${d} ms: RTT ${num(measuredRttMs(l, d), 2)} ms (raw ping-pong p50 through the proxy; nominal ${num(nominalRttMs(l, d), 2)} ms = 2 × delay + the RTT at 0)`,
      ...table(
        ['window', 'req/s', 'MB/s', 'p50 µs', 'ideal MB/s', '×ideal', '│', 'raw MB/s', 'raw ×ideal', '│', 'Go MB/s'],
        rows,
        1,
      ).map((x) => `    ${x}`),
    );
  }
  out.push(
    '  ideal = min(window × request / RTT, the same client at that window at delay 0); raw ×ideal: raw against its own cap',
    `  proxy memory: at most ${num(l.proxyMaxLaneBytes / MiB, 1)} MiB held per direction (bound 64 MiB)`,
  );
  return out;
}

function snapshotSection(r: BenchResults): string[] {
  const s = r.snapshot;
  if (s === undefined) return [];
  const out = [
    `InstallSnapshot, ${num((s.ours?.bytes ?? s.raw?.bytes ?? 0) / MiB)} MiB streamed from a generator in 64 KiB chunks` +
      (s.ours?.warmupBytes ? ` (after an untimed ${num(s.ours.warmupBytes / MiB)} MiB one)` : ''),
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
  const rows = (side: string, phases: IsolationPhase[]): string[][] =>
    phases.map((p) => [
      side,
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
      `${num(p.clientLoopDelay.p99us)} / ${num(p.serverLoopDelay.p99us)}`,
      `${num(p.clientGc.count)} / ${num(p.serverGc.count)}`,
      `${num(p.clientGc.maxMs, 1)} / ${num(p.serverGc.maxMs, 1)}`,
    ]);
  return [
    `Heartbeat isolation: heartbeats every ${i.intervalMs} ms while the load runs flat out to the same server`,
    `ours: transport.appendEntries on the client transport that carries the load (pipeline: 64×1 KiB at maxRPCsInFlight ${i.window};`,
    `snapshots: back-to-back ${num(i.snapshotSize / MiB)} MiB); raw: the same bytes pre-encoded, one-byte acks, bulk bytes dropped,`,
    `pipeline window ${i.window}: what Node here does to a second socket's round trips at the MB/s raw's loads carried`,
    ...table(
      [
        'side',
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
        'lag c / s',
        'GCs c / s',
        'GC max ms c / s',
      ],
      [...rows('ours', i.phases), ...rows('raw', i.raw)],
      2,
    ).map((l) => `  ${l}`),
    "  hb = heartbeat round trip; pipe p50/p99 = a pipelined request's own latency, what a heartbeat queued behind it would see;",
    "  lag = p99 event-loop delay in µs (c = client process, s = server process): the share of a heartbeat's wait that is a",
    '  saturated process, not transport queueing; GCs = collections during the heartbeats, with the longest pause',
    '  (ours and raw are different server processes with their own heap histories: compare their GCs roughly)',
  ];
}

function inmemSection(r: BenchResults): string[] {
  if (r.inmem === undefined) return [];
  return [
    'InmemTransport (bench/inmem.ts, one process, 1×128 B)',
    ...r.inmem.map((x) => `  ${x.mode.padEnd(10)} ${num(x.rps).padStart(10)} RPC/s`),
  ];
}

const targetLine = (t: { status: string; name: string; detail: string }): string =>
  `  ${t.status.toUpperCase().padEnd(4)}  ${t.name.padEnd(56)} ${t.detail}`;

export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const load = `load avg ${num(m.loadavgStart, 2)} -> ${num(m.loadavgEnd, 2)}`;
  const parts: string[][] = [
    [
      `raft-transport benchmark${r.quick ? ' (--quick)' : ''}: ${r.startedAt}, took ${num(r.durationSeconds)} s`,
      `machine: ${m.cpu}, ${m.cores} cores, Node ${m.node}${m.go ? `, ${m.go}` : ''}, ${m.platform}; ${load}`,
    ],
    appendSection(r),
    goSection(r),
    latencySection(r),
    snapshotSection(r),
    isolationSection(r),
    inmemSection(r),
    [
      'targets (issue 13)',
      ...r.targets.filter((t) => t.group !== 'earlier').map(targetLine),
      'earlier targets, still tracked',
      ...r.targets.filter((t) => t.group === 'earlier').map(targetLine),
    ],
  ];
  if (r.errors.length > 0) {
    parts.push(['FAILED', ...r.errors.map((e) => `  ${e.scenario}: ${e.message}`)]);
  }
  return `${parts
    .filter((p) => p.length > 0)
    .map((p) => p.join('\n'))
    .join('\n\n')}\n`;
}
