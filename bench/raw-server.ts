/**
 * The raw baseline's server (runs in a server process): counts bytes, never
 * decodes them, and acks with single bytes (see raw-protocol.ts). What it
 * costs is the floor under any transport's server side.
 */
import net from 'node:net';
import type { ServerStats } from './ipc.ts';
import { decodePreamble, PREAMBLE_BYTES, RawMode } from './raw-protocol.ts';

export interface RawServer {
  addr: string;
  stats(): ServerStats;
  close(): Promise<void>;
}

/** Acks for up to this many frames are pre-allocated; more go in several writes. */
const ACKS = Buffer.alloc(64 * 1024, 1);

export async function startRawServer(): Promise<RawServer> {
  const counters = { connections: 0, frames: 0, bulkBytes: 0 };
  const errors: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    counters.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => {
      // The client closing mid-stream at the end of a run is normal.
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') errors.push(`raw server: ${err.message}`);
    });
    serveRaw(socket, counters);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    stats: () => ({ ...counters, errors }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function serveRaw(socket: net.Socket, counters: { frames: number; bulkBytes: number }): void {
  let head = Buffer.alloc(0);
  let mode: RawMode | undefined;
  let size = 0;
  /** Frame lengths in sending order (frames mode), once the whole table arrived. */
  let lengths: Uint32Array | undefined;
  let k = 0;
  /** Bytes into the current frame (frames) or of the whole stream (bulk). */
  let seen = 0;
  socket.on('data', (chunk: Buffer) => {
    if (mode === undefined || (mode === RawMode.Frames && lengths === undefined)) {
      head = Buffer.concat([head, chunk]);
      if (head.length < PREAMBLE_BYTES) return;
      ({ mode, size } = decodePreamble(head));
      if (mode === RawMode.Frames) {
        const end = PREAMBLE_BYTES + 4 * size;
        if (head.length < end) return;
        lengths = new Uint32Array(size);
        for (let i = 0; i < size; i++) lengths[i] = head.readUInt32BE(PREAMBLE_BYTES + 4 * i);
        chunk = head.subarray(end);
      } else {
        chunk = head.subarray(PREAMBLE_BYTES);
      }
      head = Buffer.alloc(0);
    }
    if (lengths !== undefined) {
      seen += chunk.length;
      let done = 0;
      while (seen >= lengths[k]!) {
        seen -= lengths[k]!;
        k = k + 1 === lengths.length ? 0 : k + 1;
        done++;
      }
      counters.frames += done;
      while (done > 0) {
        const n = Math.min(done, ACKS.length);
        socket.write(ACKS.subarray(0, n));
        done -= n;
      }
    } else {
      seen += chunk.length;
      counters.bulkBytes += chunk.length;
      if (seen === size) socket.write(ACKS.subarray(0, 1));
    }
  });
}
