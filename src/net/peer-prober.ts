import { type AnyResponse, type AppendEntriesResponse, RpcType, type ServerAddress } from '../commands.ts';
import { isTransportError, RemoteError, TransportShutdownError } from '../errors.ts';
import { PendingCall } from '../internal/pending-call.ts';
import type { Logger } from '../logger.ts';
import { ClientConn, type ResponseWaiter } from './conn/client-conn.ts';
import type { DecodeLimits, WireFormat } from './codec/wire-format.ts';
import type { Dialer } from './layers/stream-layer.ts';
import { type PeerHealth, PeerHealthRecord } from './peer-health.ts';
import { probeRequest } from './probe-request.ts';

/** What a PeerProber needs from its transport. */
export interface PeerProberOptions {
  /** Pause between probe rounds, in ms. */
  interval: number;
  /** Deadline of one probe, connecting included, in ms. */
  timeout: number;
  /** Peers learnt from dials are kept up to this many; past it the oldest learnt one is dropped. */
  maxDialled: number;
  dialer: Dialer;
  wireFormat: WireFormat;
  limits: DecodeLimits;
  logger: Logger;
  localAddr: () => ServerAddress;
  /** Wall clock for `since` and error times (default Date.now). */
  now?: () => number;
}

interface Probed {
  readonly record: PeerHealthRecord;
  /** The probe connection, dialled by the prober and used for nothing else. */
  conn: ClientConn | undefined;
  busy: boolean;
}

const PROBE = probeRequest();

/**
 * Probes peers on a timer, as etcd's rafthttp prober does, each on a
 * connection of its own: a probe never waits behind a pipeline's backlog or
 * a snapshot, so its round trip is the path's, not the queue's. At most one
 * probe per peer is outstanding; a round skips a peer whose last probe is
 * still waiting. Owned by a NetworkTransport, which closes it.
 */
export class PeerProber {
  private readonly opts: PeerProberOptions;
  private readonly now: () => number;
  private readonly peers = new Map<ServerAddress, Probed>();
  private readonly conns = new Set<ClientConn>();
  private readonly running = new Set<Promise<void>>();
  private readonly shutdown = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: PeerProberOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.schedule();
  }

  /** Probe connections open now (for tests and `close()` checks). */
  get connectionsOpen(): number {
    return this.conns.size;
  }

  /** Starts probing `peer` (at once, then every interval); a peer already probed is left as it is, except that an explicit add pins a learnt one. */
  add(peer: ServerAddress, source: 'explicit' | 'dialled' = 'explicit'): void {
    if (this.closing !== undefined) return;
    const known = this.peers.get(peer);
    if (known !== undefined) {
      // Pinned: an explicit peer is never dropped to make room for learnt ones.
      if (source === 'explicit') known.record.source = 'explicit';
      return;
    }
    if (source === 'dialled') this.dropOldestDialled();
    const p: Probed = { record: new PeerHealthRecord(peer, source, this.now()), conn: undefined, busy: false };
    this.peers.set(peer, p);
    this.start(p);
  }

  /** Stops probing `peer` and closes its probe connection. */
  async remove(peer: ServerAddress): Promise<void> {
    const p = this.peers.get(peer);
    if (p === undefined) return;
    this.peers.delete(peer);
    await p.conn?.close();
  }

  /** Every probed peer's status. */
  list(): PeerHealth[] {
    return [...this.peers.values()].map((p) => p.record.snapshot());
  }

  /** Stops the timer, fails the probes in flight and closes every probe connection. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.shutdown.abort(new TransportShutdownError());
    await Promise.all([...this.running]);
    await Promise.all([...this.conns].map((c) => c.close()));
    this.peers.clear();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const p of this.peers.values()) this.start(p);
      if (this.closing === undefined) this.schedule();
    }, this.opts.interval);
  }

  private dropOldestDialled(): void {
    let dialled = 0;
    for (const p of this.peers.values()) if (p.record.source === 'dialled') dialled++;
    if (dialled < this.opts.maxDialled) return;
    for (const [addr, p] of this.peers) {
      if (p.record.source !== 'dialled') continue;
      void this.remove(addr);
      return;
    }
  }

  private start(p: Probed): void {
    if (p.busy || this.closing !== undefined) return;
    p.busy = true;
    const run = this.probe(p).finally(() => {
      p.busy = false;
      this.running.delete(run);
    });
    this.running.add(run);
  }

  /** One probe: dial if needed, send, wait; records the outcome unless the prober is closing. */
  private async probe(p: Probed): Promise<void> {
    const call = new PendingCall<AnyResponse>(`probe of ${p.record.peer} timed out`);
    const dialAbort = new AbortController();
    call.onCancel = (err) => {
      dialAbort.abort(err);
      // An answer may still be on its way: the connection can't be trusted for the next probe.
      p.conn?.fail(err);
    };
    p.record.stats.started();
    call.arm(this.opts.timeout, this.shutdown.signal);
    let t0 = 0;
    const waiter: ResponseWaiter = {
      responseType: RpcType.AppendEntries,
      onResponse: (response, remoteError) => {
        if (remoteError === '') call.resolve(response);
        else call.reject(new RemoteError(remoteError));
      },
      onConnectionError: (err) => call.reject(err),
    };
    const sending = (async () => {
      let conn = p.conn;
      if (conn === undefined || !conn.usable) conn = await this.dial(p, dialAbort.signal);
      if (call.settled) return;
      t0 = performance.now();
      conn.send(RpcType.AppendEntries, PROBE, waiter);
    })().catch((err: unknown) => {
      call.reject(err instanceof Error ? err : new Error(String(err)));
    });
    try {
      const r = (await call.promise) as AppendEntriesResponse;
      p.record.answered(performance.now() - t0, r.term, r.lastLog, this.now(), this.opts.localAddr(), this.opts.logger);
    } catch (err) {
      const e = err as Error;
      if (e instanceof RemoteError) void p.conn?.close();
      if (this.closing === undefined && this.peers.get(p.record.peer) === p) {
        p.record.failed(e, isTransportError(e) ? e.code : 'ERR_UNKNOWN', this.now(), this.opts.localAddr(), this.opts.logger);
      }
    }
    await sending;
  }

  private async dial(p: Probed, signal: AbortSignal): Promise<ClientConn> {
    const socket = await this.opts.dialer.dial(p.record.peer, this.opts.timeout, signal);
    if (this.closing !== undefined || this.peers.get(p.record.peer) !== p) {
      socket.destroy();
      throw new TransportShutdownError();
    }
    // No identity: the probe's header stays without id/addr (see probeRequest).
    const conn = new ClientConn(socket, p.record.peer, this.opts.wireFormat, this.opts.limits, p.record.stats);
    p.conn = conn;
    this.conns.add(conn);
    void conn.closed.then(() => {
      this.conns.delete(conn);
      if (p.conn === conn) p.conn = undefined;
    });
    return conn;
  }
}
