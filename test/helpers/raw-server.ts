/** A bare TCP server whose behaviour a test scripts byte by byte (black holes, malicious peers). */
import * as net from 'node:net';

export interface RawServer {
  addr: string;
  /** Connections currently open. */
  sockets: Set<net.Socket>;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Listens on 127.0.0.1; `onSocket` decides what each connection does (nothing: a black hole). */
export async function startRawServer(onSocket: (s: net.Socket) => void = () => {}): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    addr: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
