/**
 * A leader's replication to one follower, in hashicorp's shape:
 * - a replication loop sends entries synchronously until the follower is
 *   caught up, then switches to `appendEntriesPipeline`; a pipeline error
 *   (or a rejected batch) closes the pipeline and falls back to the
 *   synchronous path, which finds the follower's log position again;
 * - a follower behind the compacted log gets the latest snapshot with
 *   `installSnapshot`, streamed from the snapshot store;
 * - a separate heartbeat loop sends `heartbeat()`s, so they never queue
 *   behind a bulk batch (transports route them past the consumer queue);
 * - failures back off exponentially unless the follower says `noRetryBackoff`.
 */
import {
  type AppendEntriesRequest,
  type AppendPipeline,
  appendEntriesRequest,
  heartbeat,
  installSnapshotRequest,
  isTransportError,
  type Log,
} from '../../src/index.ts';
import { encodeConfiguration, type Server } from './configuration.ts';
import type { Raft } from './raft.ts';
import { delay, Trigger } from './trigger.ts';

const MAX_BACKOFF = 5000;
const backoff = (failures: number, base: number): number => Math.min(base * 2 ** Math.min(failures, 10), MAX_BACKOFF);

export class Replication {
  nextIndex: number;
  matchIndex = 0;
  /** When the follower last answered (for the leader lease). */
  lastContact = Date.now();
  private failures = 0;
  private readonly trigger = new Trigger();
  private readonly stopper = new AbortController();
  private readonly signal: AbortSignal;
  /** Cleared for good when the transport has no pipelining. */
  private pipelineAllowed: boolean;

  constructor(
    private readonly raft: Raft,
    readonly server: Server,
    private readonly term: number,
    nextIndex: number,
    leaderSignal: AbortSignal,
  ) {
    this.nextIndex = nextIndex;
    this.signal = AbortSignal.any([leaderSignal, this.stopper.signal]);
    this.pipelineAllowed = raft.config.pipeline;
  }

  start(): void {
    void this.replicateLoop().catch((err) => this.raft.trace(`replication to ${this.server.id} died: ${(err as Error).message}`));
    void this.heartbeatLoop();
  }

  notify(): void {
    this.trigger.notify();
  }

  stop(): void {
    this.stopper.abort();
  }

  private get active(): boolean {
    return !this.signal.aborted;
  }

  private commitWait(): number {
    const c = this.raft.config.commitTimeout;
    return c + Math.floor(this.raft.random() * c);
  }

  private async replicateLoop(): Promise<void> {
    while (this.active) {
      const caughtUp = await this.syncRound();
      if (!this.active) return;
      if (caughtUp && this.pipelineAllowed) await this.pipelineRound();
      else await this.trigger.wait(this.commitWait(), this.signal);
    }
  }

  /** Synchronous AppendEntries until the follower has everything; true when it does. */
  private async syncRound(): Promise<boolean> {
    while (this.active) {
      const req = this.buildRequest(this.nextIndex);
      if (!req) {
        if (!(await this.sendSnapshot())) return false;
        continue;
      }
      let resp: Awaited<ReturnType<Raft['trans']['appendEntries']>>;
      try {
        resp = await this.raft.trans.appendEntries(this.server.id, this.server.address, req, {
          timeout: this.raft.config.rpcTimeout,
          signal: this.signal,
        });
      } catch (err) {
        if (!this.active) return false;
        this.failures++;
        this.raft.trace(`appendEntries to ${this.server.id} failed: ${(err as Error).message}`);
        await delay(backoff(this.failures, 10), this.signal);
        return false;
      }
      if (!this.active) return false;
      if (resp.term > this.term) {
        this.raft.observeTerm(resp.term);
        return false;
      }
      this.lastContact = Date.now();
      if (resp.success) {
        this.failures = 0;
        this.advance(req);
        if (this.nextIndex > this.raft.lastIndex()) return true;
      } else {
        this.nextIndex = Math.max(1, Math.min(this.nextIndex - 1, resp.lastLog + 1));
        if (!resp.noRetryBackoff) {
          this.failures++;
          await delay(backoff(this.failures, 10), this.signal);
        }
      }
    }
    return false;
  }

  /** Marks the entries of an acknowledged request as replicated. */
  private advance(req: AppendEntriesRequest): void {
    const last = req.prevLogEntry + (req.entries?.length ?? 0);
    if (last > this.matchIndex) {
      this.matchIndex = last;
      this.raft.updateCommit();
      this.raft.emit('progress');
    }
    if (last + 1 > this.nextIndex) this.nextIndex = last + 1;
  }

  /** The AppendEntries starting at `next`, or undefined when the log before it was compacted (send a snapshot). */
  private buildRequest(next: number): AppendEntriesRequest | undefined {
    const raft = this.raft;
    const prevLogEntry = next - 1;
    const prevLogTerm = raft.termAt(prevLogEntry);
    if (prevLogTerm === undefined) return undefined;
    const last = Math.min(raft.lastIndex(), prevLogEntry + raft.config.maxAppendEntries);
    const entries: Log[] = [];
    for (let i = next; i <= last; i++) {
      const l = raft.logs.getLog(i);
      if (!l) return undefined;
      entries.push(l);
    }
    return appendEntriesRequest({
      term: this.term,
      leader: raft.trans.localAddr(),
      id: raft.config.localID,
      prevLogEntry,
      prevLogTerm,
      entries,
      leaderCommitIndex: raft.commitIndex,
    });
  }

  /**
   * Pipelined replication: sends batches without waiting, while a second loop
   * reads the answers in order. Returns when either side sees a failure.
   */
  private async pipelineRound(): Promise<void> {
    const raft = this.raft;
    let pipeline: AppendPipeline;
    try {
      pipeline = await raft.trans.appendEntriesPipeline(this.server.id, this.server.address, { signal: this.signal });
    } catch (err) {
      if (isTransportError(err, 'ERR_NOT_SUPPORTED')) this.pipelineAllowed = false;
      return;
    }
    const broken = new AbortController();
    const signal = AbortSignal.any([this.signal, broken.signal]);
    const answers = (async () => {
      for await (const future of pipeline.consumer()) {
        let resp: Awaited<ReturnType<typeof future.wait>>;
        try {
          resp = await future.wait();
        } catch {
          break;
        }
        if (resp.term > this.term) {
          raft.observeTerm(resp.term);
          break;
        }
        this.lastContact = Date.now();
        if (!resp.success) break;
        this.advance(future.request);
      }
      broken.abort();
    })();
    let next = this.nextIndex;
    try {
      while (!signal.aborted) {
        const req = this.buildRequest(next);
        if (!req) break; // compacted: the sync path sends a snapshot
        if (req.entries && req.entries.length > 0) {
          await pipeline.appendEntries(req, { signal, timeout: raft.config.rpcTimeout });
          next = req.prevLogEntry + req.entries.length + 1;
          if (next <= raft.lastIndex()) continue;
        } else if (raft.commitIndex > 0) {
          // Nothing new: still tell the follower the commit index now and then.
          await pipeline.appendEntries(req, { signal, timeout: raft.config.rpcTimeout });
        }
        const notified = await this.trigger.wait(this.commitWait(), signal);
        // Let the rest of this event-loop turn's applies land first, so they
        // go out as one batch rather than one RPC each (hashicorp's leader
        // drains its apply channel up to MaxAppendEntries the same way).
        if (notified) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch {
      // a send failed: fall back to the synchronous path
    } finally {
      await pipeline.close();
      await answers;
    }
    // Resume from what the follower acknowledged.
    this.nextIndex = this.matchIndex + 1;
  }

  /** Streams the latest snapshot; true when the follower installed it. */
  private async sendSnapshot(): Promise<boolean> {
    const raft = this.raft;
    const meta = raft.snapshots.latest();
    if (!meta) {
      await delay(backoff(++this.failures, 10), this.signal);
      return false;
    }
    const req = installSnapshotRequest({
      term: this.term,
      leader: raft.trans.localAddr(),
      id: raft.config.localID,
      lastLogIndex: meta.index,
      lastLogTerm: meta.term,
      configuration: encodeConfiguration(meta.configuration),
      configurationIndex: meta.configurationIndex,
      size: meta.size,
    });
    raft.trace(`sending snapshot ${meta.index} to ${this.server.id}`);
    try {
      const resp = await raft.trans.installSnapshot(this.server.id, this.server.address, req, raft.snapshots.stream(meta.id), {
        timeout: raft.config.snapshotTimeout,
        signal: this.signal,
      });
      if (resp.term > this.term) {
        raft.observeTerm(resp.term);
        return false;
      }
      this.lastContact = Date.now();
      if (!resp.success) {
        await delay(backoff(++this.failures, 10), this.signal);
        return false;
      }
      this.failures = 0;
      if (meta.index > this.matchIndex) this.matchIndex = meta.index;
      this.nextIndex = meta.index + 1;
      raft.updateCommit();
      raft.emit('progress');
      return true;
    } catch (err) {
      raft.trace(`installSnapshot to ${this.server.id} failed: ${(err as Error).message}`);
      await delay(backoff(++this.failures, 10), this.signal);
      return false;
    }
  }

  /** Heartbeats every heartbeatTimeout/10, on their own path. */
  private async heartbeatLoop(): Promise<void> {
    const raft = this.raft;
    const interval = Math.max(1, Math.floor(raft.config.heartbeatTimeout / 10));
    let failures = 0;
    while (this.active) {
      try {
        const resp = await raft.trans.appendEntries(
          this.server.id,
          this.server.address,
          heartbeat({ term: this.term, leader: raft.trans.localAddr(), id: raft.config.localID }),
          { timeout: raft.config.rpcTimeout, signal: this.signal },
        );
        if (resp.term > this.term) {
          raft.observeTerm(resp.term);
          return;
        }
        this.lastContact = Date.now();
        failures = 0;
      } catch {
        failures++;
        await delay(backoff(failures, 10), this.signal);
      }
      await delay(interval, this.signal);
    }
  }
}
