import { type AppendEntriesRequest, RpcType, type ServerAddress } from '../commands.ts';
import { PeerUnreachableError, PipelineShutdownError, RpcTimeoutError } from '../errors.ts';
import { AppendFutureImpl, AppendWindow } from '../internal/append-window.ts';
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

  constructor(trans: InmemTransport, peer: InmemTransport, peerAddr: ServerAddress, onClose: () => void) {
    this.trans = trans;
    this.peer = peer;
    this.peerAddr = peerAddr;
    this.onClose = onClose;
    this.window = new AppendWindow({
      maxInFlight: trans.maxInFlight,
      onExpire: (f) => this.window.settle(f, undefined, new RpcTimeoutError('command timed out', trans.timeout)),
    });
  }

  async appendEntries(req: AppendEntriesRequest, opts?: CallOptions): Promise<AppendFuture> {
    const wait = this.window.acquire(opts, this.trans.timeout);
    if (wait !== undefined) await wait;
    if (this.window.closed) {
      this.window.unreserve();
      throw new PipelineShutdownError();
    }
    const future = new AppendFutureImpl(req, this.trans.timeout);
    const rpc = new InmemRPC(RpcType.AppendEntries, req, { kind: 'pipeline', pipeline: this, future }, this.trans, this.peer);
    this.trans.track(rpc);
    if (!this.peer.deliver(rpc)) {
      this.trans.forget(rpc);
      this.window.unreserve();
      const err = new PeerUnreachableError(`peer ${this.peerAddr} is shut down`);
      this.shutdown(err);
      throw err;
    }
    this.window.add(future);
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
