/**
 * The --latency section: AppendEntries across a link with real round-trip
 * latency, where pipelining matters. A delaying TCP proxy (latency-proxy.ts,
 * its own process) sits between client and server; for each one-way delay
 * the client runs sync and a pipeline window sweep, ours against the raw
 * ceiling (ABBA rounds on the same ring), and the Go anchors through a proxy
 * of their own.
 *
 * The yardstick is the bandwidth-delay ideal: a window of W requests can't
 * move more than W requests per round trip, nor more than the same client
 * manages at that window with no delay (measured through the proxy at delay
 * 0, with counts like the append section's). The round trip is the one
 * the link actually has: the raw ping-pong p50 of this request size through
 * the proxy at that delay. It is reported beside the nominal one (2 × delay +
 * the round trip at delay 0), so a proxy that delays more than asked (its
 * wake-ups are late on a loaded machine) shows, without being charged to the
 * transport.
 */
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { pipelinedRun, syncRun } from './append-bench.ts';
import { startServerProcess, type ServerProcess } from './children.ts';
import type { GoSide, Step } from './sweep.ts';
import { type LatencyPlan, pipelinedCounts } from './plan.ts';
import { encodeRing, rawFrames } from './raw-client.ts';
import { abba } from './rounds.ts';
import type { RunStats } from './stats.ts';
import { generate, RingCursor, type WorkloadId, type WorkloadSpec } from './workloads.ts';

export interface LatencyPoint {
  delayMs: number;
  /** 1: synchronous. */
  window: number;
  ours?: RunStats;
  raw?: RunStats;
}

export interface LatencyGoPoint {
  label: string;
  delayMs: number;
  window: number;
  stats: RunStats;
}

export interface LatencyResults {
  workload: WorkloadId;
  label: string;
  payloadBytes: number;
  delaysMs: number[];
  windows: number[];
  points: LatencyPoint[];
  go: LatencyGoPoint[];
  /** The most any one proxied direction held (queued + unwritten), in bytes: its memory stayed bounded. */
  proxyMaxLaneBytes: number;
}

/** The nominal round trip at `delayMs`: twice the delay plus the raw ping-pong at delay 0, in ms. */
export function nominalRttMs(r: LatencyResults, delayMs: number): number | undefined {
  const base = point(r, 0, 1)?.raw?.p50us;
  return base === undefined ? undefined : 2 * delayMs + base / 1000;
}

/** The round trip the ideal uses: the measured one, else the nominal one. */
export function idealRttMs(r: LatencyResults, delayMs: number): number | undefined {
  return measuredRttMs(r, delayMs) ?? nominalRttMs(r, delayMs);
}

/** The raw ping-pong's p50 at `delayMs` in ms: the round trip the proxy actually gave. */
export function measuredRttMs(r: LatencyResults, delayMs: number): number | undefined {
  const p = point(r, delayMs, 1)?.raw?.p50us;
  return p === undefined ? undefined : p / 1000;
}

export function point(r: LatencyResults, delayMs: number, window: number): LatencyPoint | undefined {
  return r.points.find((p) => p.delayMs === delayMs && p.window === window);
}

/**
 * The bandwidth-delay ideal in req/s for `side` at (delay, window):
 * window / RTT, capped by the same side's rate at that window with no delay.
 */
export function idealRps(r: LatencyResults, side: 'ours' | 'raw', delayMs: number, window: number): number | undefined {
  const rtt = idealRttMs(r, delayMs);
  const cap = point(r, 0, window)?.[side]?.rps;
  if (rtt === undefined || cap === undefined) return undefined;
  return Math.min((window * 1000) / rtt, cap);
}

/** Steps latencyRun takes, for the progress line. */
export function latencySteps(plan: LatencyPlan, go: GoSide | undefined): number {
  const first = [...(go?.baselines.keys() ?? [])][0];
  const goSteps = first === undefined ? 0 : 1 + (go?.runs.anchors.filter((a) => a.version === first).length ?? 0);
  return plan.delaysMs.length * (plan.windows.length + goSteps);
}

/**
 * Requests per (delay, window), in total over the rounds. With a delay, the
 * link is the bottleneck and a few dozen round trips suffice; at delay 0 the
 * run is the cap of every ideal, so it gets counts like the append section's.
 */
function counts(plan: LatencyPlan, delayMs: number, window: number): { warmup: number; n: number } {
  const c = plan.noDelay;
  if (delayMs === 0) return window === 1 ? { warmup: c.warmup, n: c.sync } : pipelinedCounts(c, window, plan.rounds);
  return { warmup: Math.max(10, 2 * window), n: Math.max(plan.minN, plan.perWindow * window) * plan.rounds };
}

export async function latencyRun(
  step: Step,
  plan: LatencyPlan,
  spec: WorkloadSpec,
  ourServer: string,
  rawServer: string,
  go: GoSide | undefined,
  progress: (what: string) => void,
): Promise<LatencyResults> {
  progress(`latency: generating ${spec.ringSize.toLocaleString('en-US')} distinct ${spec.label} requests`);
  const w = generate(spec);
  const frames = encodeRing(w);
  const cursor = new RingCursor(w.ring);
  const res: LatencyResults = {
    workload: w.id,
    label: w.label,
    payloadBytes: w.payloadBytes,
    delaysMs: plan.delaysMs,
    windows: plan.windows,
    points: [],
    go: [],
    proxyMaxLaneBytes: 0,
  };
  progress('latency: starting the delaying proxies');
  const goBaselines = [...(go?.baselines.values() ?? [])];
  const proxies: ServerProcess[] = [];
  const clients = new Map<number, NetworkTransport>();
  try {
    const start = (target: string): Promise<ServerProcess> => startServerProcess('proxy', { args: [target, '0'] });
    const [ourProxy, rawProxy, goProxy] = await Promise.all([
      start(ourServer),
      start(rawServer),
      goBaselines.length > 0 ? start(goBaselines[0]!.addr) : undefined,
    ]);
    proxies.push(ourProxy, rawProxy, ...(goProxy ? [goProxy] : []));
    const client = async (window: number): Promise<NetworkTransport> => {
      let c = clients.get(window);
      if (c === undefined) {
        c = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: window });
        clients.set(window, c);
      }
      return c;
    };
    for (const delayMs of plan.delaysMs) {
      await Promise.all(proxies.map((p) => p.setDelay(delayMs)));
      for (const window of plan.windows) {
        const { warmup, n } = counts(plan, delayMs, window);
        const run = window === 1 ? syncRun : pipelinedRun;
        const r = await step(`latency ${delayMs} ms, ${window === 1 ? 'sync' : `window ${window}`}: ours vs raw`, async () => {
          const c = await client(window);
          return abba(
            plan.rounds,
            warmup,
            n,
            w.payloadBytes,
            (wu, k, lat) => run(c, ourProxy.addr, cursor, wu, k, lat),
            (wu, k, lat) => rawFrames(rawProxy.addr, frames, window, wu, k, lat),
          );
        });
        res.points.push({ delayMs, window, ...(r ? { ours: r.a, raw: r.b } : {}) });
      }
      if (go && goProxy) {
        // Only the first release's server sits behind the proxy; see go-baseline.ts for wiring more.
        const baseline = goBaselines[0]!;
        const { warmup, n } = counts(plan, delayMs, 1);
        const s = await step(`latency ${delayMs} ms, sync: Go ${baseline.version}`, () =>
          baseline.run(w.id, 'sync', warmup, Math.ceil(n / plan.rounds), { target: goProxy.addr }),
        );
        if (s) res.go.push({ label: `Go ${baseline.version}`, delayMs, window: 1, stats: s });
        for (const a of go.runs.anchors.filter((x) => x.version === baseline.version)) {
          const c = counts(plan, delayMs, a.window);
          const p = await step(`latency ${delayMs} ms, pipelined: ${a.label}`, () =>
            baseline.run(w.id, 'pipeline', c.warmup, Math.ceil(c.n / plan.rounds), { window: a.window, target: goProxy.addr }),
          );
          if (p) res.go.push({ label: a.label, delayMs, window: a.window, stats: p });
        }
      }
    }
    for (const p of proxies) {
      const stats = await p.stats();
      if (stats.errors.length > 0) throw new Error(`latency proxy: ${stats.errors.join('; ')}`);
      res.proxyMaxLaneBytes = Math.max(res.proxyMaxLaneBytes, Number(stats.maxLaneBytes ?? 0));
    }
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await Promise.all(proxies.map((p) => p.close()));
  }
  return res;
}
