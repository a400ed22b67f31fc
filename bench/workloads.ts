/**
 * The AppendEntries requests every benchmark client sends, in the four sizes
 * the Go bench (test/interop/peer/bench.go) uses.
 *
 * A leader never sends the same request twice: each batch carries fresh
 * entry data, advancing indexes, and objects the JIT has not seen before. So
 * every workload is a ring of distinct requests, generated before anything is
 * timed: at least 64 MiB of entry data for the large workloads (well past any
 * CPU cache), distinct data per entry, indexes advancing through the ring and
 * the term stepping every RING_TERM_STEP requests. Ours and the raw ceiling
 * walk the same ring (raw as each request's pre-encoded frame). The server
 * checks a CRC over every entry byte (see responder.ts), so verification
 * still covers all of it.
 *
 * `sameRequest` builds the old workload, one request sent over and over: its
 * data stays in the cache and its shapes stay monomorphic. The benchmark
 * keeps one such row per workload because it is what Go's bench still sends
 * (a like-for-like anchor) and because the gap between it and the ring is
 * what the cache and the JIT were hiding.
 */
import { randomFillSync } from 'node:crypto';
import type { AppendEntriesRequest, Log } from '../src/commands.ts';
import { entriesCrc } from './responder.ts';

export type WorkloadId = 'heartbeat' | '128b' | '64x1k' | '256x4k';

/** A workload's shape: what a request carries, not yet generated. */
export interface WorkloadSpec {
  readonly id: WorkloadId;
  /** For tables, e.g. "64×1 KiB". */
  readonly label: string;
  readonly entries: number;
  readonly entrySize: number;
  /** Entry Data bytes per request: what MB/s counts. */
  readonly payloadBytes: number;
  /** Distinct requests in the ring. */
  readonly ringSize: number;
}

/** A generated workload: its ring of requests, walked in order and wrapping around. */
export interface Workload extends WorkloadSpec {
  readonly ring: readonly AppendEntriesRequest[];
  /** Entry Data bytes in the whole ring. */
  readonly ringBytes: number;
  /** True for the one-request ring of `sameRequest`. */
  readonly same: boolean;
}

const MiB = 1024 * 1024;
/** Entry data a large workload's ring holds at least: far beyond any L3 cache. */
export const RING_DATA_BYTES = 64 * MiB;
/** Distinct requests for the small workloads (8 MiB of 128 B entries, ~40 MiB of objects and frames). */
const SMALL_RING = 65_536;
/** Distinct heartbeat objects (their content is the same, as a leader's are within a term). */
const HEARTBEAT_RING = 4_096;
/** Requests per term in a ring: terms advance now and then, as leaderships change. */
export const RING_TERM_STEP = 4_096;
/** The first entry index of a ring: indexes past 2^16, as in a log that has been running for a while. */
const FIRST_INDEX = 1_000_001;

const te = new TextEncoder();
/** Sent in the header (raft 1.7+) and the legacy Leader field, as a modern leader does. */
export const LEADER_ADDR = te.encode('bench-leader:8300');
const LEADER_ID = te.encode('bench-leader');

/** The leader's header: a non-empty address is what makes an empty AppendEntries a heartbeat. */
export function leaderHeader(): AppendEntriesRequest['rpcHeader'] {
  return { protocolVersion: 3, id: LEADER_ID, addr: LEADER_ADDR };
}

/** A true heartbeat by hashicorp's rule (term, leader, nothing else): it takes the server's fast path. */
export function heartbeat(term = 5): AppendEntriesRequest {
  return {
    rpcHeader: leaderHeader(),
    term,
    leader: LEADER_ADDR,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
  };
}

function spec(id: WorkloadId, label: string, entries: number, entrySize: number): WorkloadSpec {
  const payloadBytes = entries * entrySize;
  let ringSize = SMALL_RING;
  if (payloadBytes === 0) ringSize = HEARTBEAT_RING;
  else if (payloadBytes * SMALL_RING > RING_DATA_BYTES) ringSize = Math.ceil(RING_DATA_BYTES / payloadBytes);
  return { id, label, entries, entrySize, payloadBytes, ringSize };
}

/** The workload shapes, in table order. Nothing is generated yet: see generate(). */
export function workloads(): WorkloadSpec[] {
  return [
    spec('heartbeat', 'heartbeat', 0, 0),
    spec('128b', '1×128 B', 1, 128),
    spec('64x1k', '64×1 KiB', 64, 1024),
    spec('256x4k', '256×4 KiB', 256, 4096),
  ];
}

/**
 * Fills `count` bytes of random entry data in one slab (randomFillSync is
 * native, so 64 MiB takes a fraction of a second); every entry gets its own
 * region of it.
 */
function randomSlab(count: number): Buffer {
  const slab = Buffer.allocUnsafeSlow(count);
  for (let off = 0; off < count; off += 64 * MiB) randomFillSync(slab, off, Math.min(64 * MiB, count - off));
  return slab;
}

/** Request `k` of a ring: entries after those of request k-1, its own data, the CRC in leaderCommitIndex. */
function request(s: WorkloadSpec, k: number, slab: Buffer): AppendEntriesRequest {
  const term = 5 + Math.floor(k / RING_TERM_STEP);
  const prev = FIRST_INDEX - 1 + k * s.entries;
  const es: Log[] = new Array(s.entries);
  for (let i = 0; i < s.entries; i++) {
    const at = (k * s.entries + i) * s.entrySize;
    es[i] = { index: prev + 1 + i, term, type: 0, data: slab.subarray(at, at + s.entrySize), extensions: null };
  }
  return {
    rpcHeader: leaderHeader(),
    term,
    leader: LEADER_ADDR,
    prevLogEntry: prev,
    // The previous request's term; the first request of a term follows the last of the one before.
    prevLogTerm: k > 0 && k % RING_TERM_STEP === 0 ? term - 1 : term,
    entries: es,
    leaderCommitIndex: entriesCrc(es),
  };
}

/** Generates the ring of distinct requests for `s` (call before the timed section; drop it after). */
export function generate(s: WorkloadSpec): Workload {
  if (s.payloadBytes === 0) {
    const ring = Array.from({ length: s.ringSize }, () => heartbeat());
    return { ...s, ring, ringBytes: 0, same: false };
  }
  const slab = randomSlab(s.ringSize * s.payloadBytes);
  const ring = Array.from({ length: s.ringSize }, (_, k) => request(s, k, slab));
  return { ...s, ring, ringBytes: slab.length, same: false };
}

/** The old workload: one request of shape `s`, sent over and over (see the file comment for why it stays). */
export function sameRequest(s: WorkloadSpec): Workload {
  const one = s.payloadBytes === 0 ? heartbeat() : request(s, 0, randomSlab(s.payloadBytes));
  return { ...s, ringSize: 1, ring: [one], ringBytes: s.payloadBytes, same: true };
}

/** Walks a ring in order, wrapping around; each trial continues where the last one stopped. */
export class RingCursor<T> {
  private i = 0;
  constructor(readonly items: readonly T[]) {
    if (items.length === 0) throw new Error('empty ring');
  }

  get position(): number {
    return this.i;
  }

  next(): T {
    const item = this.items[this.i]!;
    this.i = this.i + 1 === this.items.length ? 0 : this.i + 1;
    return item;
  }
}
