import type { ServerAddress } from '../../commands.ts';
import type { ClientConn } from './client-conn.ts';

/**
 * Idle client connections per target, reused last-in first-out (the most
 * recently used connection is the one most likely still alive, and the
 * others can age out), capped at `maxPool` per target as in hashicorp.
 */
export class ConnPool {
  private readonly idle = new Map<ServerAddress, ClientConn[]>();
  private readonly maxPool: number;

  constructor(maxPool: number) {
    this.maxPool = maxPool;
  }

  /** An idle healthy connection to `target`, or undefined. */
  take(target: ServerAddress): ClientConn | undefined {
    const list = this.idle.get(target);
    if (list === undefined) return undefined;
    for (let conn = list.pop(); conn !== undefined; conn = list.pop()) {
      if (conn.usable) return conn;
    }
    // Nothing left for this peer: forget it, so peers gone for good leave no entry.
    this.idle.delete(target);
    return undefined;
  }

  /** Returns a connection after use; one that broke, or one too many, is closed. */
  give(conn: ClientConn): void {
    if (!conn.usable) return;
    let list = this.idle.get(conn.target);
    if (list === undefined) {
      list = [];
      this.idle.set(conn.target, list);
    }
    if (list.length < this.maxPool) list.push(conn);
    else void conn.close();
  }

  /** Closes every idle connection (hashicorp's CloseStreams, client half). */
  closeAll(): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const list of this.idle.values()) for (const conn of list) closing.push(conn.close());
    this.idle.clear();
    return Promise.all(closing).then(() => undefined);
  }
}
