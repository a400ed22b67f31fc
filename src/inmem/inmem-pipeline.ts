import { type AppendEntriesRequest, RpcType, type ServerAddress } from '../commands.ts';
import { PeerUnreachableError, PipelineShutdownError, RemoteError, RpcTimeoutError } from '../errors.ts';
import { AppendFutureImpl, AppendWindow } from '../internal/append-window.ts';
import { withIdentity } from '../internal/identity.ts';
import type { PeerStats } from '../net/peer-stats.ts';
import type { AppendFuture, AppendPipeline, CallOptions } from '../transport.ts';
import { InmemRPC } from './inmem-rpc.ts';
import type { InmemTransport } from './inmem-transport.ts';

/**
 * Pipelined AppendEntries between two InmemTransports. Requests go straight
 * into the peer's consumer queue; futures come back in request order even if
 * the peer answers out of order, as they would on a single connection.
 */
export class InmemPipeline implements AppendPipeline {
  readonly peerAddr: ServerAddress;
  private readonly trans: InmemTransport;
  private readonly peer: InmemTransport;
  readonly window: AppendWindow;
  private readonly onClose: () => void;
  private readonly stats: PeerStats;

  constructor(trans: InmemTransport, peer: InmemTransport, peerAddr: ServerAddress, onClose: () => void) {
    this.trans = trans;
    this.peer = peer;
    this.peerAddr = peerAddr;
    this.onClose = onClose;
    const stats = trans.statsFor(peerAddr);
    this.stats = stats;
    this.window = new AppendWindow({
      maxInFlight: trans.maxRPCsInFlight,
      onExpire: (f) => this.window.settle(f, undefined, new RpcTimeoutError('command timed out', trans.timeout)),
      onSettled: (f) => {
        if (f.error === undefined) stats.succeeded(performance.now() - f.sentAt);
        else stats.failed(f.error instanceof RemoteError);
      },
    });
  }

  async appendEntries(req: AppendEntriesRequest, opts?: CallOptions): Promise<AppendFuture> {
    const wait = this.window.acquire(opts, this.trans.timeout);
    if (wait !== undefined) await wait;
    if (this.window.closed) {
      this.window.unreserve();
      throw new PipelineShutdownError();
    }
    if (this.peer.closed) {
      this.window.unreserve();
      const err = new PeerUnreachableError(`peer ${this.peerAddr} is shut down`);
      this.shutdown(err);
      throw err;
    }
    const future = new AppendFutureImpl(req, this.trans.timeout);
    const command = withIdentity(req, this.trans.identity);
    const rpc = new InmemRPC(RpcType.AppendEntries, command, { kind: 'pipeline', pipeline: this, future }, this.trans, this.peer);
    // Tracked before delivery: a synchronous heartbeat handler answers inside
    // deliver(), and that answer must find the future in the window.
    this.window.add(future);
    this.stats.started();
    this.trans.track(rpc);
    this.peer.deliver(rpc); // cannot fail: the peer is open, and nothing in between yields
    return future;
  }

  consumer(): AsyncIterable<AppendFuture> {
    return this.window.done;
  }

  close(): Promise<void> {
    this.shutdown();
    return Promise.resolve();
  }

  /** Fails every pending future and ends the consumer; idempotent. */
  shutdown(cause?: Error): void {
    if (this.window.closed) return;
    this.window.close(new PipelineShutdownError('append pipeline closed', cause ? { cause } : undefined));
    this.onClose();
  }
}
