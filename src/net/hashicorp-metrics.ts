/**
 * Publishing hashicorp/raft's metrics on the `raft-transport:metric`
 * channel. Callers check `channels.metric.hasSubscribers` first, so with
 * nobody listening no clock is read and nothing is allocated.
 */
import {
  type AnyRequest,
  type AppendEntriesRequest,
  isHeartbeat,
  RpcType,
  type ServerAddress,
  type ServerID,
} from '../commands.ts';
import { channels, type HashicorpMetricName } from '../diagnostics.ts';

/** Go's `rpcType` label values, one frozen object each: a sample allocates no label. */
const RPC_TYPE_LABELS = [
  Object.freeze({ rpcType: 'AppendEntries' }),
  Object.freeze({ rpcType: 'RequestVote' }),
  Object.freeze({ rpcType: 'InstallSnapshot' }),
  Object.freeze({ rpcType: 'TimeoutNow' }),
  Object.freeze({ rpcType: 'RequestPreVote' }),
] as const;
const HEARTBEAT_LABEL = Object.freeze({ rpcType: 'Heartbeat' });
/** getRPCType is unlabelled in Go (the type is not known yet). */
export const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** The `rpcType` label Go's handleCommand gives a request (a heartbeat is told apart, handler or not). */
export function rpcTypeLabel(type: RpcType, heartbeat: boolean): Readonly<{ rpcType: string }> {
  if (heartbeat && type === RpcType.AppendEntries) return HEARTBEAT_LABEL;
  return RPC_TYPE_LABELS[type] ?? Object.freeze({ rpcType: String(type) });
}

/** Publishes a timer sample in milliseconds. */
export function publishTimer(
  local: ServerAddress,
  name: HashicorpMetricName,
  ms: number,
  labels: Readonly<Record<string, string>>,
): void {
  channels.metric.publish({ local, name, kind: 'timer', value: ms, labels });
}

/**
 * The server-side timings of one incoming RPC, as Go's handleCommand takes
 * them: decode (from the type byte to the decoded request), enqueue (until
 * the consumer took it or the heartbeat handler returned) and respond (until
 * the answer was written). Made only while someone subscribes.
 */
export class ServerRpcTimings {
  private readonly local: ServerAddress;
  private readonly labels: Readonly<{ rpcType: string }>;
  private mark: number;
  private isTaken = false;

  constructor(local: ServerAddress, labels: Readonly<{ rpcType: string }>, decodeStart: number) {
    this.local = local;
    this.labels = labels;
    this.mark = performance.now();
    publishTimer(local, 'raft.net.rpcDecode', this.mark - decodeStart, labels);
  }

  /** The consumer took the RPC, or the heartbeat handler returned. */
  taken(): void {
    if (this.isTaken) return;
    this.isTaken = true;
    const now = performance.now();
    publishTimer(this.local, 'raft.net.rpcEnqueue', now - this.mark, this.labels);
    this.mark = now;
  }

  /** The answer was written. */
  responded(): void {
    // A heartbeat handler that answers before returning: enqueue ends here.
    this.taken();
    publishTimer(this.local, 'raft.net.rpcRespond', performance.now() - this.mark, this.labels);
  }
}

/**
 * What a Go leader measures around a successful call (replication.go):
 * raft.replication.heartbeat for a heartbeat, raft.replication.appendEntries.rpc
 * and .logs (entries sent) for other AppendEntries, sync or pipelined, and
 * raft.replication.installSnapshot; labelled `peer_id`. Other RPCs have none.
 */
export function publishReplication(local: ServerAddress, peer: ServerID, type: RpcType, request: AnyRequest, ms: number): void {
  if (type === RpcType.InstallSnapshot) {
    publishTimer(local, 'raft.replication.installSnapshot', ms, { peer_id: peer });
  } else if (type === RpcType.AppendEntries) {
    const req = request as AppendEntriesRequest;
    if (isHeartbeat(req)) {
      publishTimer(local, 'raft.replication.heartbeat', ms, { peer_id: peer });
    } else {
      const labels = { peer_id: peer };
      publishTimer(local, 'raft.replication.appendEntries.rpc', ms, labels);
      channels.metric.publish({
        local,
        name: 'raft.replication.appendEntries.logs',
        kind: 'counter',
        value: req.entries?.length ?? 0,
        labels,
      });
    }
  }
}
