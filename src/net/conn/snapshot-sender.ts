import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type InstallSnapshotRequest, RpcType, type ServerAddress } from '../../commands.ts';
import { channels } from '../../diagnostics.ts';
import { exactly } from '../../internal/byte-source.ts';
import type { ByteSource } from '../../transport.ts';
import type { ClientConn, ResponseWaiter } from './client-conn.ts';

/** Snapshot bytes written between turns of the event loop. */
const SNAPSHOT_TURN_BYTES = 1024 * 1024;

/**
 * Sends an InstallSnapshot request on `conn` followed by exactly `req.size`
 * bytes of `data`, respecting the socket's back-pressure so the snapshot is
 * never held in memory whole. Resolves once everything is handed to the
 * socket; rejects (without failing the connection: that is the caller's
 * choice) when the request can't be encoded, the data is wrong or fails, or
 * the connection breaks. Stopping early returns the data's iterator.
 */
export async function sendSnapshot(
  conn: ClientConn,
  req: InstallSnapshotRequest,
  data: ByteSource,
  waiter: ResponseWaiter,
  local: ServerAddress,
): Promise<void> {
  conn.send(RpcType.InstallSnapshot, req, waiter);
  conn.flush();
  let sent = 0;
  let sinceYield = 0;
  for await (const chunk of exactly(data, req.size)) {
    if (conn.broken !== undefined) throw conn.broken;
    sent += chunk.length;
    sinceYield += chunk.length;
    if (channels.snapshotProgress.hasSubscribers) {
      channels.snapshotProgress.publish({ local, peer: conn.target, direction: 'send', bytes: sent, size: req.size });
    }
    if (!conn.writeRaw(chunk)) {
      await conn.drained();
      sinceYield = 0;
    } else if (sinceYield >= SNAPSHOT_TURN_BYTES) {
      // A fast socket never says "wait", and an async source may never
      // leave the microtask queue: give other work (heartbeats) a turn.
      await yieldToLoop();
      sinceYield = 0;
    }
  }
  if (conn.broken !== undefined) throw conn.broken;
}
