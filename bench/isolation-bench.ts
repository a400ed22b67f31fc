/**
 * Latency isolation: do heartbeats stay fast while the link to the same peer
 * is saturated? A Raft leader must keep heartbeating while it replicates a
 * backlog and streams a snapshot, or followers start elections.
 *
 * Our design keeps them apart: heartbeats borrow pooled connections, each
 * pipeline and each snapshot owns its connection, and the server answers
 * heartbeats from its heartbeat handler without queueing behind the consumer.
 * This measures heartbeat round trips (one every ~1 ms, through
 * transport.appendEntries) on an idle link, then again while a 64×1 KiB
 * pipeline, back-to-back snapshots, and both at once run flat out on the same
 * client transport to the same server; the separate loads show which one
 * costs what. The pipeline's own latency under load is the contrast: what a
 * heartbeat would see if it queued behind the backlog.
 *
 * The same phases then run raw (bench/raw-client.ts): pre-encoded frames
 * answered with one-byte acks, bulk bytes counted and dropped, no codec and
 * no transport on either side. Raw heartbeats under raw loads show what Node
 * on this machine does to a second socket's round trips while one is
 * saturated; raw's loads carry their own MB/s (nothing decodes them), so the
 * rows name what each load carried. Each process's GC pauses are reported
 * beside its event-loop delay, since they are one cause of it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../src/transport.ts';
import { SERVER_ID } from './append-bench.ts';
import type { ServerProcess } from './children.ts';
import type { ProcessReport } from './ipc.ts';
import { ProcessSampler } from './process-sampler.ts';
import { encodeFrame, encodeRing, rawBulk, rawFramesUntil, rawPaced } from './raw-client.ts';
import { checkAppend } from './responder.ts';
import { SNAPSHOT_CHUNK, snapshotData, snapshotRequest } from './snapshot-bench.ts';
import { LatencyRecorder } from './stats.ts';
import { heartbeat, RingCursor, type Workload } from './workloads.ts';

export interface LatencyStats {
  n: number;
  p50us: number;
  p99us: number;
  maxus: number;
}

/** What runs beside the heartbeats in a phase. */
export type LoadKind = 'none' | 'pipeline' | 'snapshot' | 'both';

export interface IsolationPhase {
  load: LoadKind;
  heartbeats: LatencyStats;
  /** What the background load achieved while the heartbeats ran. */
  seconds: number;
  pipelineRps: number;
  pipelineMbps: number;
  /** A pipelined request's own latency (call to future consumed) during the phase. */
  pipelineLatency?: LatencyStats;
  snapshotMbps: number;
  /**
   * How late each process's event loop ran during the phase: the part of a
   * heartbeat's delay that is CPU saturation rather than transport queueing.
   */
  clientLoopDelay: ProcessReport['loopDelay'];
  serverLoopDelay: ProcessReport['loopDelay'];
  clientGc: ProcessReport['gc'];
  serverGc: ProcessReport['gc'];
}

export interface IsolationStats {
  intervalMs: number;
  snapshotSize: number;
  /** The pipeline window of both sides (maxRPCsInFlight for ours). */
  window: number;
  phases: IsolationPhase[];
  /** The same phases, raw heartbeats under raw loads: what Node does here with no transport at all. */
  raw: IsolationPhase[];
}

export interface IsolationPlan {
  heartbeats: number;
  intervalMs: number;
  snapshotSize: number;
}

/** The pipeline window of both sides' load: our transport's default maxRPCsInFlight. */
export const ISOLATION_WINDOW = 64;

/** Paced heartbeats: each awaited, then ~intervalMs of quiet; every one must come back through the fast path. */
async function heartbeatSeries(client: Transport, addr: string, n: number, intervalMs: number): Promise<LatencyStats> {
  const req = heartbeat();
  const lat = new LatencyRecorder(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const resp = await client.appendEntries(SERVER_ID, addr, req);
    lat.add(performance.now() - t);
    checkAppend(req, resp, true);
    await sleep(intervalMs);
  }
  return { n, ...lat.percentiles() };
}

/** Counters the background load updates, read at the edges of the measured window. */
class Meter {
  futures = 0;
  snapshotBytes = 0;
  measuring = false;
  readonly pipelineLatency = new LatencyRecorder(1 << 20);
}

/** Start times of the requests in flight; far more slots than any pipeline window. */
const RING = 1 << 16;

/** Keeps a pipeline full of `w` until `stop` fires, then lets it drain. */
async function pipelineLoad(client: Transport, addr: string, w: Workload, meter: Meter, stop: AbortSignal): Promise<void> {
  const pipeline = await client.appendEntriesPipeline(SERVER_ID, addr);
  const calledAt = new Float64Array(RING);
  const ring = new RingCursor(w.ring);
  let sent = 0;
  let done = 0;
  try {
    const consumed = (async () => {
      for await (const f of pipeline.consumer()) {
        if (f.error !== undefined) throw f.error;
        checkAppend(f.request, f.response!, false);
        if (meter.measuring) meter.pipelineLatency.add(performance.now() - calledAt[done % RING]!);
        meter.futures++;
        if (++done === sent && stop.aborted) return;
      }
    })();
    consumed.catch(() => pipeline.close());
    try {
      while (!stop.aborted) {
        calledAt[sent % RING] = performance.now();
        sent++;
        await pipeline.appendEntries(ring.next());
      }
    } catch (err) {
      await consumed;
      throw err;
    }
    // Everything sent was consumed already: the consumer is waiting for a future that won't come.
    if (done === sent) await pipeline.close();
    await consumed;
  } finally {
    await pipeline.close();
  }
}

/** Streams snapshots back to back until `stop` fires (the one in flight completes). */
async function snapshotLoad(client: Transport, addr: string, size: number, meter: Meter, stop: AbortSignal): Promise<void> {
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of snapshotData(size)) {
      meter.snapshotBytes += chunk.length;
      yield chunk;
    }
  }
  while (!stop.aborted) {
    const resp = await client.installSnapshot(SERVER_ID, addr, snapshotRequest(size), counted());
    if (!resp.success) throw new Error('the server did not read the whole snapshot');
  }
}

/** What a phase drives, through our transport or raw; `server` is the process it all goes to. */
interface Driver {
  server: ServerProcess;
  heartbeats(n: number, intervalMs: number): Promise<LatencyStats>;
  pipeline(meter: Meter, stop: AbortSignal): Promise<void>;
  snapshots(meter: Meter, stop: AbortSignal): Promise<void>;
}

function oursDriver(client: Transport, server: ServerProcess, workload: Workload, plan: IsolationPlan): Driver {
  return {
    server,
    heartbeats: (n, intervalMs) => heartbeatSeries(client, server.addr, n, intervalMs),
    pipeline: (meter, stop) => pipelineLoad(client, server.addr, workload, meter, stop),
    snapshots: (meter, stop) => snapshotLoad(client, server.addr, plan.snapshotSize, meter, stop),
  };
}

/** The same heartbeat, ring and snapshot bytes, pre-encoded and sent raw to the raw server. */
function rawDriver(server: ServerProcess, workload: Workload, plan: IsolationPlan): Driver {
  const hb = encodeFrame(heartbeat());
  const ring = encodeRing(workload);
  return {
    server,
    async heartbeats(n, intervalMs) {
      const lat = new LatencyRecorder(n);
      await rawPaced(server.addr, hb, n, intervalMs, lat);
      return { n, ...lat.percentiles() };
    },
    pipeline: (meter, stop) =>
      rawFramesUntil(server.addr, ring, ISOLATION_WINDOW, stop, (ms) => {
        if (meter.measuring) meter.pipelineLatency.add(ms);
        meter.futures++;
      }),
    async snapshots(meter, stop) {
      const count = (n: number): void => {
        meter.snapshotBytes += n;
      };
      while (!stop.aborted) await rawBulk(server.addr, plan.snapshotSize, SNAPSHOT_CHUNK, count);
    },
  };
}

/** Heartbeats while `kind` of load saturates the link; the loads stop (and drain) before it returns. */
async function phase(driver: Driver, workload: Workload, plan: IsolationPlan, kind: LoadKind): Promise<IsolationPhase> {
  const server = driver.server;
  const meter = new Meter();
  const stop = new AbortController();
  const loads: Array<Promise<void>> = [];
  if (kind === 'pipeline' || kind === 'both') loads.push(driver.pipeline(meter, stop.signal));
  if (kind === 'snapshot' || kind === 'both') loads.push(driver.snapshots(meter, stop.signal));
  // A load that fails ends the phase rather than leaving it measuring an idle link.
  const failed = Promise.race(loads.map((p) => p.then(() => new Promise<never>(() => {}))));
  failed.catch(() => {});
  try {
    if (loads.length > 0) await Promise.race([sleep(300), failed]); // let the load reach full speed
    const local = new ProcessSampler();
    await server.sampleStart();
    local.start();
    const start = { t: performance.now(), futures: meter.futures, bytes: meter.snapshotBytes };
    meter.measuring = true;
    let heartbeats: LatencyStats;
    try {
      heartbeats = await Promise.race([driver.heartbeats(plan.heartbeats, plan.intervalMs), failed]);
    } catch (err) {
      // Leave no sampler running in either process; the failure is what the caller hears of.
      local.stop();
      await server.sampleStop().catch(() => {});
      throw err;
    }
    meter.measuring = false;
    const clientReport = local.stop();
    const serverReport = await server.sampleStop();
    const seconds = (performance.now() - start.t) / 1000;
    const futures = meter.futures - start.futures;
    const lat = meter.pipelineLatency;
    return {
      load: kind,
      heartbeats,
      seconds,
      pipelineRps: futures / seconds,
      pipelineMbps: (futures * workload.payloadBytes) / seconds / 1e6,
      ...(lat.size > 0 ? { pipelineLatency: { n: lat.size, ...lat.percentiles() } } : {}),
      snapshotMbps: (meter.snapshotBytes - start.bytes) / seconds / 1e6,
      clientLoopDelay: clientReport.loopDelay,
      serverLoopDelay: serverReport.loopDelay,
      clientGc: clientReport.gc,
      serverGc: serverReport.gc,
    };
  } finally {
    stop.abort();
    await Promise.all(loads);
  }
}

export async function isolationRun(
  client: Transport,
  server: ServerProcess,
  raw: ServerProcess,
  workload: Workload,
  plan: IsolationPlan,
  progress: (what: string) => void,
): Promise<IsolationStats> {
  const run = async (name: string, driver: Driver): Promise<IsolationPhase[]> => {
    // Warm both processes' JIT on the heartbeat path (and, for ours, the pooled connection).
    await driver.heartbeats(100, 0);
    const phases: IsolationPhase[] = [];
    for (const kind of ['none', 'pipeline', 'snapshot', 'both'] as const) {
      progress(`heartbeat isolation: ${name}, load ${kind}`);
      phases.push(await phase(driver, workload, plan, kind));
    }
    return phases;
  };
  const phases = await run('ours', oursDriver(client, server, workload, plan));
  const rawPhases = await run('raw', rawDriver(raw, workload, plan));
  return { intervalMs: plan.intervalMs, snapshotSize: plan.snapshotSize, window: ISOLATION_WINDOW, phases, raw: rawPhases };
}
