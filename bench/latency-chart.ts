/**
 * bench/results/latency.svg (and docs/bench-latency.svg with --update-docs):
 * AppendEntries MB/s against round-trip time, one line per in-flight window,
 * our transport solid and the bandwidth-delay ideal dotted in the same
 * colour, Go's pipelines as diamonds. Log-log: RTTs span two decades and
 * rates fall in proportion to them. A user choosing maxRPCsInFlight reads off
 * the window whose line stays near its ideal at their RTT.
 */
import { idealRps, type LatencyResults, measuredRttMs } from './latency-bench.ts';
import type { Machine } from './machine.ts';

const COLORS = ['#555555', '#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const W = 900;
const H = 500;
const PLOT = { left: 80, right: 690, top: 60, bottom: 420 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f1 = (x: number): string => x.toFixed(1);
const decade = (lo: number, hi: number): [number, number] => [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];

export function latencyChart(r: LatencyResults, machine: Machine, when: string): string {
  const mb = (rps: number): number => (rps * r.payloadBytes) / 1e6;
  // x: the round trip the proxy actually gave at each delay (raw ping-pong p50).
  const rtts = new Map<number, number>();
  for (const d of r.delaysMs) {
    const m = measuredRttMs(r, d);
    if (m !== undefined && m > 0) rtts.set(d, m);
  }
  const ys: number[] = [];
  for (const p of r.points) {
    if (p.ours) ys.push(mb(p.ours.rps));
    const ideal = idealRps(r, 'ours', p.delayMs, p.window);
    if (ideal !== undefined) ys.push(mb(ideal));
  }
  for (const g of r.go) ys.push(mb(g.stats.rps));
  const xs = [...rtts.values()];
  const finiteY = ys.filter((v) => v > 0 && Number.isFinite(v));
  if (xs.length === 0 || finiteY.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n`;
  const [xMin, xMax] = decade(Math.min(...xs), Math.max(...xs));
  const [yMin, yMax] = decade(Math.min(...finiteY), Math.max(...finiteY));
  const x = (v: number): number =>
    PLOT.left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (PLOT.right - PLOT.left);
  const y = (v: number): number =>
    PLOT.bottom - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (PLOT.bottom - PLOT.top);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PLOT.left}" y="24" font-size="16" font-weight="bold">${esc(`AppendEntries ${r.label} MB/s vs. round-trip time, per in-flight window (log-log)`)}</text>`,
    `<text x="${PLOT.left}" y="42" fill="#555">${esc(
      `delaying TCP proxy, one-way ${r.delaysMs.join(', ')} ms; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; ${when}`,
    )}</text>`,
  ];
  for (const [lo, hi, axis] of [
    [yMin, yMax, 'y'],
    [xMin, xMax, 'x'],
  ] as const) {
    for (let d = lo; d <= hi * 1.0001; d *= 10) {
      for (const m of [1, 2, 5]) {
        const v = d * m;
        if (v > hi * 1.0001) break;
        const stroke = m === 1 ? '#ccc' : '#eee';
        if (axis === 'y') {
          out.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="${stroke}"/>`);
          out.push(`<text x="${PLOT.left - 6}" y="${f1(y(v) + 4)}" text-anchor="end">${Number(v.toPrecision(3))}</text>`);
        } else {
          out.push(`<line x1="${f1(x(v))}" x2="${f1(x(v))}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="${stroke}"/>`);
          out.push(`<text x="${f1(x(v))}" y="${PLOT.bottom + 16}" text-anchor="middle">${Number(v.toPrecision(3))}</text>`);
        }
      }
    }
  }
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 36}" text-anchor="middle">round-trip time, ms (measured raw ping-pong through the proxy)</text>`,
    `<text transform="translate(20 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">entry payload MB/s</text>`,
  );

  const legend: string[] = [];
  r.windows.forEach((win, i) => {
    const color = COLORS[i % COLORS.length]!;
    const ours: Array<[number, number]> = [];
    const ideal: Array<[number, number]> = [];
    for (const d of r.delaysMs) {
      const rtt = rtts.get(d);
      const p = r.points.find((q) => q.delayMs === d && q.window === win);
      if (rtt === undefined || p === undefined) continue;
      if (p.ours) ours.push([rtt, mb(p.ours.rps)]);
      const id = idealRps(r, 'ours', d, win);
      if (id !== undefined) ideal.push([rtt, mb(id)]);
    }
    const path = (pts: Array<[number, number]>): string => pts.map(([a, b]) => `${f1(x(a))},${f1(y(b))}`).join(' ');
    if (ideal.length > 1)
      out.push(`<polyline points="${path(ideal)}" fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="2 3"/>`);
    if (ours.length > 1) out.push(`<polyline points="${path(ours)}" fill="none" stroke="${color}" stroke-width="2.2"/>`);
    for (const [a, b] of ours) out.push(`<circle cx="${f1(x(a))}" cy="${f1(y(b))}" r="3" fill="${color}"/>`);
    const ly = PLOT.top + 10 + i * 20;
    legend.push(
      `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 50}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.2"/>`,
      `<text x="${PLOT.right + 56}" y="${ly + 4}">${win === 1 ? 'sync' : `window ${win}`}</text>`,
    );
  });
  for (const g of r.go) {
    const rtt = rtts.get(g.delayMs);
    if (rtt === undefined) continue;
    const gx = x(rtt);
    const gy = y(mb(g.stats.rps));
    out.push(
      `<path d="M${f1(gx)},${f1(gy - 6)} L${f1(gx + 6)},${f1(gy)} L${f1(gx)},${f1(gy + 6)} L${f1(gx - 6)},${f1(gy)} Z" fill="none" stroke="black"><title>${esc(g.label)}</title></path>`,
    );
  }
  const ky = PLOT.top + 10 + r.windows.length * 20 + 16;
  legend.push(
    `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 50}" y1="${ky}" y2="${ky}" stroke="#333" stroke-dasharray="2 3"/>`,
    `<text x="${PLOT.right + 56}" y="${ky + 4}">ideal: window × request / RTT,</text>`,
    `<text x="${PLOT.right + 56}" y="${ky + 18}">capped by the no-delay rate</text>`,
  );
  if (r.go.length > 0) {
    legend.push(
      `<path d="M${PLOT.right + 35},${ky + 29} L${PLOT.right + 41},${ky + 35} L${PLOT.right + 35},${ky + 41} L${PLOT.right + 29},${ky + 35} Z" fill="none" stroke="black"/>`,
      `<text x="${PLOT.right + 56}" y="${ky + 39}">Go hashicorp/raft</text>`,
    );
  }
  out.push(...legend, '</svg>');
  return `${out.join('\n')}\n`;
}
