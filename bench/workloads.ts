/**
 * The AppendEntries requests every benchmark client sends: the same four
 * shapes the Go bench (test/interop/peer/bench.go) uses, so ours, the raw
 * ceiling and Go all move the same entries.
 */
import type { AppendEntriesRequest, Log } from '../src/commands.ts';
import { entriesCrc, pseudoRandomBytes } from '../test/interop/go-peer.ts';

export type WorkloadId = 'heartbeat' | '128b' | '64x1k' | '256x4k';

export interface Workload {
  readonly id: WorkloadId;
  /** For tables, e.g. "64×1 KiB". */
  readonly label: string;
  /** Entry Data bytes per request: what MB/s counts. */
  readonly payloadBytes: number;
  /** Built once and sent over and over; the server checks every payload byte (see responder.ts). */
  readonly request: AppendEntriesRequest;
}

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

/** `count` entries of `size` pseudo-random bytes; leaderCommitIndex carries their crc (the responder rules). */
function entries(count: number, size: number): AppendEntriesRequest {
  const es: Log[] = Array.from({ length: count }, (_, i) => ({
    index: 1001 + i,
    term: 5,
    type: 0,
    data: pseudoRandomBytes(size, i + 1),
    extensions: null,
  }));
  return {
    rpcHeader: leaderHeader(),
    term: 5,
    leader: LEADER_ADDR,
    prevLogEntry: 1000,
    prevLogTerm: 5,
    entries: es,
    leaderCommitIndex: entriesCrc(es),
  };
}

function workload(id: WorkloadId, label: string, request: AppendEntriesRequest): Workload {
  const payloadBytes = (request.entries ?? []).reduce((n, e) => n + (e.data?.length ?? 0), 0);
  return { id, label, payloadBytes, request };
}

/** In table order. */
export function workloads(): Workload[] {
  return [
    workload('heartbeat', 'heartbeat', heartbeat()),
    workload('128b', '1×128 B', entries(1, 128)),
    workload('64x1k', '64×1 KiB', entries(64, 1024)),
    workload('256x4k', '256×4 KiB', entries(256, 4096)),
  ];
}
