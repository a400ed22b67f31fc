/**
 * AppendEntries throughput and latency through our NetworkTransport, as a
 * Raft leader drives it: synchronously (one call at a time, the way
 * hashicorp replicates without a pipeline) or through an AppendPipeline.
 * Requests come from the workload's ring of distinct requests (see
 * workloads.ts), each trial continuing where the last stopped. Every response
 * is checked, so a fast wrong answer fails the run.
 */
import { type AppendEntriesRequest, isHeartbeat } from '../src/commands.ts';
import type { Transport } from '../src/transport.ts';
import { checkAppend } from './responder.ts';
import type { LatencyRecorder, Timed } from './stats.ts';
import type { RingCursor } from './workloads.ts';

export const SERVER_ID = 'bench-server';

/** `warmup` untimed calls, then `n` timed ones, each awaited before the next. */
export async function syncRun(
  client: Transport,
  addr: string,
  ring: RingCursor<AppendEntriesRequest>,
  warmup: number,
  n: number,
  lat: LatencyRecorder,
): Promise<Timed> {
  const fastPath = isHeartbeat(ring.items[0]!);
  for (let i = 0; i < warmup; i++) {
    const req = ring.next();
    checkAppend(req, await client.appendEntries(SERVER_ID, addr, req), fastPath);
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const req = ring.next();
    const start = performance.now();
    const resp = await client.appendEntries(SERVER_ID, addr, req);
    lat.add(performance.now() - start);
    checkAppend(req, resp, fastPath);
  }
  return { n, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Sends `warmup + n` requests through one pipeline (its window is the client
 * transport's maxRPCsInFlight) while a second loop consumes the futures.
 * Throughput is timed between the last warm-up future and the last future
 * consumed, both in steady state; latency runs from the appendEntries() call
 * (including any wait for a window slot) to the future being consumed.
 */
export async function pipelinedRun(
  client: Transport,
  addr: string,
  ring: RingCursor<AppendEntriesRequest>,
  warmup: number,
  n: number,
  lat: LatencyRecorder,
): Promise<Timed> {
  const fastPath = isHeartbeat(ring.items[0]!);
  const total = warmup + n;
  const calledAt = new Float64Array(total);
  const pipeline = await client.appendEntriesPipeline(SERVER_ID, addr);
  try {
    // With no warm-up, the clock starts at the first call.
    let t0 = performance.now();
    const consumed = (async (): Promise<number> => {
      let i = 0;
      for await (const f of pipeline.consumer()) {
        const now = performance.now();
        if (f.error !== undefined) throw f.error;
        checkAppend(f.request, f.response!, fastPath);
        if (i >= warmup) lat.add(now - calledAt[i]!);
        if (++i === warmup) t0 = now;
        if (i === total) return now;
      }
      throw new Error(`the pipeline's consumer ended after ${i} of ${total} futures`);
    })();
    // A failed consumer must also stop the sender, which may be waiting for a slot.
    consumed.catch(() => pipeline.close());
    try {
      for (let i = 0; i < total; i++) {
        calledAt[i] = performance.now();
        await pipeline.appendEntries(ring.next());
      }
    } catch (err) {
      await consumed; // when the consumer failed, its error is the cause: report that one
      throw err;
    }
    const end = await consumed;
    return { n, seconds: (end - t0) / 1000 };
  } finally {
    await pipeline.close();
  }
}
