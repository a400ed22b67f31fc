import type { ServerAddress } from '../commands.ts';
import type { PeerHealth } from './peer-health.ts';

/** A latency summary in milliseconds, from a log-linear histogram (about 6% resolution). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** What a NetworkTransport has exchanged with one peer, for dashboards and alerts. */
export interface PeerStatsSnapshot {
  peer: ServerAddress;
  /** Outgoing RPCs started, answered successfully, and failed (any reason). */
  rpcsSent: number;
  rpcsSucceeded: number;
  rpcsFailed: number;
  /** Of the failures, how many were the peer's own error answers. */
  remoteErrors: number;
  /** Calls and pipelined requests waiting for an answer right now. */
  inFlight: number;
  bytesSent: number;
  bytesReceived: number;
  /** Outbound connections opened to this peer since start. */
  connectionsOpened: number;
  /** Outbound connections open to this peer now: pooled, in use, pipelines and snapshots. */
  connectionsOpen: number;
  /** Round-trip latency of successful calls and pipelined requests. */
  latency: LatencySummary;
}

/** A snapshot of a transport's counters. */
export interface TransportStats {
  /** Outbound traffic, one entry per peer dialed. */
  peers: PeerStatsSnapshot[];
  /** Inbound side: RPCs received, open connections, connections closed on bad input. */
  inbound: { rpcsReceived: number; connectionsOpen: number; protocolErrors: number; bytesReceived: number };
  /** Probed peers' health; present only on a NetworkTransport with `probeInterval` set. */
  probes?: PeerHealth[];
}

// Log-linear buckets over microseconds: 16 sub-buckets per power of two.
const SUB = 16;
const SUB_BITS = 4;
const BUCKETS = 40 * SUB;

function bucketOf(us: number): number {
  if (us < SUB) return us > 0 ? Math.floor(us) : 0;
  // Integer arithmetic (the top bit by clz32) instead of log2 and pow: this runs once per answer.
  if (us < 2 ** 32) {
    const u = us >>> 0;
    const exp = 31 - Math.clz32(u) - SUB_BITS;
    return (exp + 1) * SUB + (u >>> exp) - SUB;
  }
  const exp = Math.floor(Math.log2(us)) - SUB_BITS;
  return Math.min(BUCKETS - 1, (exp + 1) * SUB + Math.floor(us / 2 ** exp) - SUB);
}

function bucketValue(bucket: number): number {
  if (bucket < SUB) return bucket;
  const exp = Math.floor(bucket / SUB) - 1;
  const mant = bucket % SUB;
  return (SUB + mant + 0.5) * 2 ** exp;
}

/** Mutable counters for one peer; cheap enough to update on every RPC. */
export class PeerStats {
  readonly peer: ServerAddress;
  rpcsSent = 0;
  rpcsSucceeded = 0;
  rpcsFailed = 0;
  remoteErrors = 0;
  inFlight = 0;
  bytesSent = 0;
  bytesReceived = 0;
  connectionsOpened = 0;
  connectionsOpen = 0;
  private readonly histogram = new Uint32Array(BUCKETS);
  private count = 0;
  private maxMs = 0;

  constructor(peer: ServerAddress) {
    this.peer = peer;
  }

  started(): void {
    this.rpcsSent++;
    this.inFlight++;
  }

  succeeded(ms: number): void {
    this.inFlight--;
    this.rpcsSucceeded++;
    const us = ms * 1000;
    const b = bucketOf(us);
    this.histogram[b] = (this.histogram[b] as number) + 1;
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  failed(remote: boolean): void {
    this.inFlight--;
    this.rpcsFailed++;
    if (remote) this.remoteErrors++;
  }

  /** Nothing open and nothing in flight: the entry may be forgotten without losing anything live. */
  get idle(): boolean {
    return this.connectionsOpen === 0 && this.inFlight === 0;
  }

  snapshot(): PeerStatsSnapshot {
    return {
      peer: this.peer,
      rpcsSent: this.rpcsSent,
      rpcsSucceeded: this.rpcsSucceeded,
      rpcsFailed: this.rpcsFailed,
      remoteErrors: this.remoteErrors,
      inFlight: this.inFlight,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      connectionsOpened: this.connectionsOpened,
      connectionsOpen: this.connectionsOpen,
      latency: {
        count: this.count,
        p50: this.quantile(0.5),
        p90: this.quantile(0.9),
        p99: this.quantile(0.99),
        max: this.maxMs,
      },
    };
  }

  private quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.histogram[b] as number;
      if (seen >= rank) return Math.min(this.maxMs, bucketValue(b) / 1000);
    }
    return this.maxMs;
  }
}
