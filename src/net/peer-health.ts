import type { ServerAddress } from '../commands.ts';
import { channels } from '../diagnostics.ts';
import type { Logger } from '../logger.ts';
import { type LatencySummary, PeerStats } from './peer-stats.ts';

/**
 * What the prober believes about a peer: `unknown` until the first probe
 * ends, then `active` while probes are answered and `inactive` from the
 * first one that is not (etcd's peer status: one failed exchange is enough).
 */
export type PeerHealthState = 'unknown' | 'active' | 'inactive';

/** One probed peer's status, as `NetworkTransport.peers()` reports it. */
export interface PeerHealth {
  peer: ServerAddress;
  state: PeerHealthState;
  /** When the peer entered `state` (ms since the epoch, as `Date.now()`). */
  since: number;
  /** How the peer became known: given by the application, or dialled for a Raft RPC. */
  source: 'explicit' | 'dialled';
  /** The latest failed probe's error code and message; kept after the peer recovers. */
  lastError?: { code: string; message: string; at: number };
  /** Probes sent, answered, and failed (unanswered, timed out, refused, or answered with an error). */
  probesSent: number;
  probesSucceeded: number;
  failures: number;
  /** Failures since the last answered probe. */
  consecutiveFailures: number;
  /** Round trip of answered probes: request written to answer decoded, connecting excluded. */
  rtt: LatencySummary;
  /** The peer's term and last log index from its latest answer. */
  peerTerm?: number;
  peerLastLog?: number;
}

/** Published on `raft-transport:peer:health` each time a peer's state changes (never once per probe). */
export interface PeerHealthMessage {
  local: ServerAddress;
  peer: ServerAddress;
  state: PeerHealthState;
  previous: PeerHealthState;
  since: number;
  /** What made the peer inactive. */
  error?: Error;
}

/**
 * The status record of one probed peer, with the rule that makes the log
 * bearable while a peer is down: a state change is logged and published once;
 * repeated failures only update counters.
 */
export class PeerHealthRecord {
  readonly peer: ServerAddress;
  source: 'explicit' | 'dialled';
  /** Probe RTTs; its byte counters count the probe connection's traffic. */
  readonly stats: PeerStats;
  private state: PeerHealthState = 'unknown';
  private since: number;
  private lastError: PeerHealth['lastError'];
  private failures = 0;
  private consecutive = 0;
  private peerTerm: number | undefined;
  private peerLastLog: number | undefined;

  constructor(peer: ServerAddress, source: 'explicit' | 'dialled', now: number) {
    this.peer = peer;
    this.source = source;
    this.since = now;
    this.stats = new PeerStats(peer);
  }

  get current(): PeerHealthState {
    return this.state;
  }

  /** The peer answered after `rttMs`. */
  answered(rttMs: number, term: number, lastLog: number, now: number, local: ServerAddress, logger: Logger): void {
    this.stats.succeeded(rttMs);
    this.consecutive = 0;
    this.peerTerm = term;
    this.peerLastLog = lastLog;
    this.change('active', now, undefined, local, logger);
  }

  /** The probe failed with `err` (a dial error, timeout, broken connection or error answer). */
  failed(err: Error, code: string, now: number, local: ServerAddress, logger: Logger): void {
    this.stats.failed(false);
    this.failures++;
    this.consecutive++;
    this.lastError = { code, message: err.message, at: now };
    this.change('inactive', now, err, local, logger);
  }

  snapshot(): PeerHealth {
    const s = this.stats.snapshot();
    const h: PeerHealth = {
      peer: this.peer,
      state: this.state,
      since: this.since,
      source: this.source,
      probesSent: s.rpcsSent,
      probesSucceeded: s.rpcsSucceeded,
      failures: this.failures,
      consecutiveFailures: this.consecutive,
      rtt: s.latency,
    };
    if (this.lastError !== undefined) h.lastError = { ...this.lastError };
    if (this.peerTerm !== undefined) h.peerTerm = this.peerTerm;
    if (this.peerLastLog !== undefined) h.peerLastLog = this.peerLastLog;
    return h;
  }

  private change(next: PeerHealthState, now: number, err: Error | undefined, local: ServerAddress, logger: Logger): void {
    if (next === this.state) return;
    const previous = this.state;
    this.state = next;
    this.since = now;
    if (next === 'active') logger.info({ peer: this.peer, previous }, 'raft-net: peer became active');
    else logger.warn({ peer: this.peer, previous, err }, 'raft-net: peer became inactive');
    if (channels.peerHealth.hasSubscribers) {
      const m: PeerHealthMessage = { local, peer: this.peer, state: next, previous, since: now };
      if (err !== undefined) m.error = err;
      channels.peerHealth.publish(m);
    }
  }
}
