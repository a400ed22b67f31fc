/**
 * InstallSnapshot throughput and the memory it costs. The data comes from a
 * generator that yields the same 64 KiB chunk (a file read stream's chunk
 * size) until `size` bytes went out, so nothing but the transport's own
 * buffering can make either process grow: the snapshot is never held whole.
 */
import type { InstallSnapshotRequest } from '../src/commands.ts';
import type { Transport } from '../src/transport.ts';
import { pseudoRandomBytes } from '../test/interop/go-peer.ts';
import { SERVER_ID } from './append-bench.ts';
import type { ServerProcess } from './children.ts';
import type { RssReport } from './ipc.ts';
import { ProcessSampler } from './process-sampler.ts';
import { leaderHeader, LEADER_ADDR } from './workloads.ts';

export const SNAPSHOT_CHUNK = Buffer.from(pseudoRandomBytes(64 * 1024, 42));

export interface SnapshotStats {
  bytes: number;
  /** Bytes of the untimed snapshot sent first, to warm both processes' JIT (the timed one starts after it). */
  warmupBytes: number;
  seconds: number;
  mbps: number;
  clientRss: RssReport;
  serverRss: RssReport;
}

/** `size` bytes as a stream of SNAPSHOT_CHUNK-sized pieces. */
export async function* snapshotData(size: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < size; ) {
    const piece = SNAPSHOT_CHUNK.subarray(0, Math.min(SNAPSHOT_CHUNK.length, size - sent));
    sent += piece.length;
    yield piece;
  }
}

export function snapshotRequest(size: number, term = 5): InstallSnapshotRequest {
  return {
    rpcHeader: leaderHeader(),
    snapshotVersion: 1,
    term,
    leader: LEADER_ADDR,
    lastLogIndex: 1_000_000,
    lastLogTerm: term,
    configuration: new TextEncoder().encode('bench configuration'),
    configurationIndex: 1,
    size,
  };
}

/** Sends one snapshot of `size` bytes; throws unless the server read exactly that many. */
export async function sendSnapshot(client: Transport, addr: string, size: number): Promise<void> {
  const resp = await client.installSnapshot(SERVER_ID, addr, snapshotRequest(size), snapshotData(size));
  if (!resp.success) throw new Error(`the server did not read exactly ${size} snapshot bytes`);
}

/** Untimed warm-up before the timed snapshot: an eighth of it, at most 32 MiB. */
export function snapshotWarmup(size: number): number {
  return Math.min(Math.floor(size / 8), 32 * 2 ** 20);
}

/**
 * One timed snapshot, sampling RSS in both processes for its duration. A
 * smaller untimed one goes first, as every append workload has its warm-up:
 * the server process is fresh, and without it the figure is mostly a cold
 * JIT's (2026-12-03, --only=snapshot: 478-565 MB/s cold, 693-889 warm).
 */
export async function snapshotRun(client: Transport, server: ServerProcess, size: number): Promise<SnapshotStats> {
  const warmupBytes = snapshotWarmup(size);
  if (warmupBytes > 0) await sendSnapshot(client, server.addr, warmupBytes);
  const local = new ProcessSampler();
  await server.sampleStart();
  local.start();
  const t0 = performance.now();
  try {
    await sendSnapshot(client, server.addr, size);
  } catch (err) {
    local.stop();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  const clientRss = local.stop().rss;
  const serverRss = (await server.sampleStop()).rss;
  return { bytes: size, warmupBytes, seconds, mbps: size / seconds / 1e6, clientRss, serverRss };
}
