import { type AnyRequest, type AnyResponse, type RpcType, type ServerAddress, type ServerID, rpcTypeName } from '../commands.ts';
import { publishReplication } from './hashicorp-metrics.ts';
import { channels } from '../diagnostics.ts';
import { RemoteError } from '../errors.ts';
import { type CallObserver, PendingCall } from '../internal/pending-call.ts';
import type { ClientConn, ResponseWaiter } from './conn/client-conn.ts';
import type { ConnPool } from './conn/conn-pool.ts';
import type { PeerStats } from './peer-stats.ts';

/**
 * One outgoing call from start to end: waits for its response on a borrowed
 * connection (handing the connection back to `pool` afterwards, when there is
 * one), and records how it ended in the peer's stats and the diagnostics
 * channels. One object per call, serving as response waiter, settle observer
 * and timeout-message source alike.
 */
export class TrackedCall implements ResponseWaiter, CallObserver<AnyResponse> {
  readonly responseType: RpcType;
  readonly request: AnyRequest;
  readonly call: PendingCall<AnyResponse>;
  private readonly pool: ConnPool | undefined;
  private readonly stats: PeerStats;
  private readonly local: ServerAddress;
  private readonly target: ServerAddress;
  private readonly t0: number;
  /** The ServerID the call was made with: hashicorp's `peer_id` label. */
  private readonly peerID: ServerID;
  private conn: ClientConn | undefined;

  /** `pool` receives the connection back after an answer; without one (snapshots) the caller closes it. */
  constructor(
    type: RpcType,
    target: ServerAddress,
    request: AnyRequest,
    stats: PeerStats,
    local: ServerAddress,
    pool: ConnPool | undefined,
    peerID: ServerID = '',
  ) {
    this.peerID = peerID;
    this.responseType = type;
    this.target = target;
    this.request = request;
    this.stats = stats;
    this.local = local;
    this.pool = pool;
    stats.started();
    this.t0 = performance.now();
    this.call = new PendingCall<AnyResponse>();
    this.call.observer = this;
  }

  /** The connection the request goes out on. */
  attach(conn: ClientConn): void {
    this.conn = conn;
    // A call given up mid-flight leaves an answer on the way: the connection can't be reused.
    this.call.onCancel = (err) => conn.fail(err);
    if (channels.rpcSend.hasSubscribers) {
      channels.rpcSend.publish({ local: this.local, target: this.target, type: this.responseType, request: this.request });
    }
  }

  onResponse(response: AnyResponse, remoteError: string): void {
    this.call.onCancel = undefined;
    // The stream is in sync after any decoded answer, but a peer may close
    // right after an error string (a refused request is answered, then the
    // connection closed): only a clean answer returns the connection to the pool.
    if (this.pool !== undefined && this.conn !== undefined) {
      if (remoteError === '') this.pool.give(this.conn);
      else void this.conn.close();
    }
    if (remoteError !== '') this.call.reject(new RemoteError(remoteError));
    else this.call.resolve(response);
  }

  onConnectionError(err: Error): void {
    this.call.reject(err);
  }

  timeoutMessage(): string {
    return `${rpcTypeName(this.responseType)} to ${this.target} timed out`;
  }

  settled(response: AnyResponse | undefined, err: Error | undefined): void {
    const ms = performance.now() - this.t0;
    if (err === undefined) {
      this.stats.succeeded(ms);
      if (channels.metric.hasSubscribers) publishReplication(this.local, this.peerID, this.responseType, this.request, ms);
      if (channels.rpcComplete.hasSubscribers) {
        channels.rpcComplete.publish({
          local: this.local,
          target: this.target,
          type: this.responseType,
          response,
          durationMs: ms,
        });
      }
    } else {
      this.stats.failed(err instanceof RemoteError);
      if (channels.rpcError.hasSubscribers) {
        channels.rpcError.publish({
          local: this.local,
          target: this.target,
          type: this.responseType,
          error: err,
          durationMs: ms,
        });
      }
    }
  }
}
