/**
 * The benchmark's Raft follower (runs in a server process): our TCP
 * NetworkTransport with a heartbeat handler set, as a Raft node sets one, and
 * a consumer loop answering by the responder rules. Snapshots are read to the
 * end and counted, as a node would stream them to disk; each is served on its
 * own so it never holds up the AppendEntries behind it in the queue.
 */
import { RpcType } from '../src/commands.ts';
import type { NetworkTransport } from '../src/net/network-transport.ts';
import { newTCPTransport } from '../src/net/tcp-transport.ts';
import type { InstallSnapshotRPC } from '../src/transport.ts';
import type { ServerStats } from './ipc.ts';
import { answerAppend } from './responder.ts';

export interface TransportServer {
  addr: string;
  stats(): ServerStats;
  close(): Promise<void>;
}

export async function startTransportServer(): Promise<TransportServer> {
  const trans: NetworkTransport = await newTCPTransport('127.0.0.1:0');
  const counters = { heartbeats: 0, appends: 0, snapshots: 0, snapshotBytes: 0, other: 0 };
  const errors: string[] = [];
  const fail = (what: string, err: unknown): void => {
    if (errors.length < 20) errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  };

  trans.setHeartbeatHandler((rpc) => {
    counters.heartbeats++;
    rpc.respond(answerAppend(rpc.command, true));
  });

  const drainSnapshot = async (rpc: InstallSnapshotRPC): Promise<void> => {
    let read = 0;
    for await (const chunk of rpc.reader as AsyncIterable<Uint8Array>) read += chunk.length;
    counters.snapshots++;
    counters.snapshotBytes += read;
    rpc.respond({
      rpcHeader: { protocolVersion: rpc.command.rpcHeader.protocolVersion },
      term: rpc.command.term,
      success: read === rpc.command.size,
    });
  };

  const served = (async () => {
    for await (const rpc of trans.consumer()) {
      switch (rpc.type) {
        case RpcType.AppendEntries:
          counters.appends++;
          rpc.respond(answerAppend(rpc.command, false));
          break;
        case RpcType.InstallSnapshot:
          drainSnapshot(rpc).catch((err: unknown) => {
            if (!trans.closed) fail('snapshot', err);
          });
          break;
        default:
          counters.other++;
          rpc.respond(null, 'not served by the benchmark');
      }
    }
  })().catch((err: unknown) => fail('consumer', err));

  return {
    addr: trans.localAddr(),
    stats: () => ({ ...counters, errors }),
    close: async () => {
      await trans.close();
      await served;
    },
  };
}
