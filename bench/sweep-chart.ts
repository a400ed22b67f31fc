/**
 * docs/bench-sweep.svg: requests/s against the in-flight window, one line per
 * workload, hand-written SVG (no chart dependency). Both axes are log scale:
 * windows double, and the workloads' rates differ by orders of magnitude.
 * Window 1 is the synchronous run; dashed lines are the raw ceiling and
 * diamonds the Go anchors' pipelines, each at its own window (filled: 1.1.2,
 * hollow: later releases). Every point walks a ring of distinct requests.
 */
import type { BenchResults } from './results.ts';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const W = 900;
const H = 480;
const PLOT = { left: 80, right: 700, top: 60, bottom: 410 };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f1 = (x: number): string => x.toFixed(1);

function siLabel(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return String(v);
}

export function sweepChart(r: BenchResults): string {
  const windows = [1, ...r.windows];
  const values: number[] = [];
  for (const w of r.append) {
    for (const s of [w.ours, w.raw]) {
      if (s.sync) values.push(s.sync.rps);
      for (const p of s.pipelined) values.push(p.rps);
    }
    for (const a of r.go?.anchors ?? []) {
      const go = a.pipelined[w.workload];
      if (go) values.push(go.rps);
    }
  }
  const finite = values.filter((v) => v > 0 && Number.isFinite(v));
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...finite, 1e3)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...finite, 1e4)));
  const xMax = Math.max(...windows);
  const x = (win: number): number => PLOT.left + (Math.log2(win) / Math.log2(xMax)) * (PLOT.right - PLOT.left);
  const y = (v: number): number =>
    PLOT.bottom - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (PLOT.bottom - PLOT.top);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PLOT.left}" y="24" font-size="16" font-weight="bold">AppendEntries requests/s vs. pipeline in-flight window (log-log)</text>`,
    `<text x="${PLOT.left}" y="42" fill="#555">${esc(
      `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; ${r.startedAt}${r.quick ? ' (--quick)' : ''}`,
    )}</text>`,
  );
  // Grid and axes.
  for (let d = yMin; d <= yMax; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > yMax) break;
      out.push(
        `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${f1(y(v))}" y2="${f1(y(v))}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`,
      );
      if (m === 1) out.push(`<text x="${PLOT.left - 6}" y="${f1(y(v) + 4)}" text-anchor="end">${siLabel(v)}</text>`);
    }
  }
  for (const win of windows) {
    out.push(
      `<line x1="${f1(x(win))}" x2="${f1(x(win))}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#eee"/>`,
      `<text x="${f1(x(win))}" y="${PLOT.bottom + 16}" text-anchor="middle">${win === 1 ? 'sync' : win}</text>`,
    );
  }
  out.push(
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 36}" text-anchor="middle">in-flight window (maxRPCsInFlight; sync = one call at a time)</text>`,
    `<text transform="translate(20 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">requests/s</text>`,
  );

  // Series.
  const legend: string[] = [];
  r.append.forEach((w, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = (s: typeof w.ours): Array<[number, number]> => [
      ...(s.sync ? [[1, s.sync.rps] as [number, number]] : []),
      ...s.pipelined.map((p) => [p.window, p.rps] as [number, number]),
    ];
    const path = (pts: Array<[number, number]>): string => pts.map(([wx, v]) => `${f1(x(wx))},${f1(y(v))}`).join(' ');
    const raw = points(w.raw);
    if (raw.length > 1)
      out.push(
        `<polyline points="${path(raw)}" fill="none" stroke="${color}" stroke-width="1.2" stroke-dasharray="5 4" opacity="0.7"/>`,
      );
    const ours = points(w.ours);
    if (ours.length > 1) out.push(`<polyline points="${path(ours)}" fill="none" stroke="${color}" stroke-width="2.2"/>`);
    for (const [wx, v] of ours) {
      out.push(
        wx === 1
          ? `<rect x="${f1(x(wx) - 4)}" y="${f1(y(v) - 4)}" width="8" height="8" fill="white" stroke="${color}" stroke-width="2"/>`
          : `<circle cx="${f1(x(wx))}" cy="${f1(y(v))}" r="3" fill="${color}"/>`,
      );
    }
    for (const a of r.go?.anchors ?? []) {
      const go = a.pipelined[w.workload];
      if (!go || a.window > xMax) continue;
      const gx = x(a.window);
      const gy = y(go.rps);
      out.push(
        `<path d="M${f1(gx)},${f1(gy - 7)} L${f1(gx + 7)},${f1(gy)} L${f1(gx)},${f1(gy + 7)} L${f1(gx - 7)},${f1(gy)} Z" fill="${a.version === '1.1.2' ? color : 'white'}" stroke="black"><title>${esc(a.label)}</title></path>`,
      );
    }
    const ly = PLOT.top + 10 + i * 20;
    legend.push(
      `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 50}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.2"/>`,
      `<text x="${PLOT.right + 56}" y="${ly + 4}">${esc(w.label)}</text>`,
    );
  });
  const ky = PLOT.top + 10 + r.append.length * 20 + 16;
  legend.push(
    `<rect x="${PLOT.right + 31}" y="${ky - 4}" width="8" height="8" fill="white" stroke="#333" stroke-width="2"/>`,
    `<text x="${PLOT.right + 56}" y="${ky + 4}">ours, synchronous</text>`,
    `<line x1="${PLOT.right + 20}" x2="${PLOT.right + 50}" y1="${ky + 20}" y2="${ky + 20}" stroke="#333" stroke-dasharray="5 4"/>`,
    `<text x="${PLOT.right + 56}" y="${ky + 24}">raw ceiling (no codec)</text>`,
  );
  if (r.go && r.go.anchors.length > 0) {
    legend.push(
      `<path d="M${PLOT.right + 35},${ky + 33} L${PLOT.right + 42},${ky + 40} L${PLOT.right + 35},${ky + 47} L${PLOT.right + 28},${ky + 40} Z" fill="#999" stroke="black"/>`,
      `<text x="${PLOT.right + 56}" y="${ky + 44}">Go hashicorp/raft,</text>`,
      `<text x="${PLOT.right + 56}" y="${ky + 58}">${esc(
        r.go.anchors
          .map((a) => a.version)
          .filter((v, i, all) => all.indexOf(v) === i)
          .join(', '),
      )} pipelined</text>`,
    );
  }
  out.push(...legend, '</svg>');
  return `${out.join('\n')}\n`;
}
