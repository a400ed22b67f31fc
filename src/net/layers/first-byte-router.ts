import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { InvalidValueError } from '../../errors.ts';
import { defaultLogger, type Logger } from '../../logger.ts';

/** Where a routed connection goes: the socket, and the bytes read past the routing byte (put them back, or hand them on). */
export type RouteHandler = (socket: Duplex, head: Buffer) => void;

/** How `firstByteRouter` sorts connections on a shared port. */
export interface FirstByteRouterOptions {
  /** Routing byte → handler; e.g. `{ 1: (s, head) => raftLayer.handoff(s, head) }` (Consul's RPCRaft is 1). */
  routes: Readonly<Record<number, RouteHandler>>;
  /**
   * Connections whose first byte has no route, with everything read so far
   * (the first byte included), e.g. HTTP: `(s, head) => { s.unshift(head);
   * httpServer.emit('connection', s); }`. Default: close them.
   */
  fallback?: RouteHandler;
  /** Upgrades to TLS when the first byte is `byte` (Consul's RPCTLS is 2), then routes on the first byte inside TLS. */
  tls?: { byte: number; options: tls.TlsOptions };
  /**
   * Time in ms for the routing byte (and any TLS handshake) to arrive before
   * the connection is closed, so idle sockets can't pile up (default 5 s).
   */
  handshakeTimeout?: number;
  /** Where refused connections are reported; pino-compatible. */
  logger?: Logger;
}

/**
 * Returns a `'connection'` listener for a `net.Server` that reads each
 * connection's first byte and hands the socket to that byte's route: Raft
 * and your own protocols (HTTP, gRPC) on one port, as Consul multiplexes its
 * RPC port. With `tls`, a connection may first ask for TLS and then route
 * inside it; asking for TLS again inside TLS is refused.
 */
export function firstByteRouter(options: FirstByteRouterOptions): (socket: Socket) => void {
  const timeout = options.handshakeTimeout ?? 5_000;
  if (!(timeout > 0)) throw new InvalidValueError(`handshakeTimeout must be positive, got ${timeout}`);
  for (const key of Object.keys(options.routes)) checkByte(Number(key), 'route');
  if (options.tls !== undefined) {
    checkByte(options.tls.byte, 'tls.byte');
    if (options.routes[options.tls.byte] !== undefined) {
      throw new InvalidValueError(`byte ${options.tls.byte} can't be both the TLS byte and a route`);
    }
  }
  const logger = options.logger ?? defaultLogger;
  // One context for every upgrade: building it parses keys and certificates.
  const context = options.tls === undefined ? undefined : tls.createSecureContext(options.tls.options);
  return (socket: Socket): void => {
    const deadline = setTimeout(() => {
      logger.warn({ remote: socket.remoteAddress }, 'raft-router: no routing byte in time; closing');
      socket.destroy();
    }, timeout);
    socket.once('close', () => clearTimeout(deadline));
    void route(socket, options, context, false, logger).finally(() => clearTimeout(deadline));
  };
}

async function route(
  socket: Duplex,
  options: FirstByteRouterOptions,
  context: tls.SecureContext | undefined,
  insideTls: boolean,
  logger: Logger,
): Promise<void> {
  const head = await firstChunk(socket);
  if (head === undefined) return; // closed before saying anything
  const byte = head[0] as number;
  if (options.tls !== undefined && byte === options.tls.byte) {
    if (insideTls) {
      logger.warn({}, 'raft-router: refused TLS inside TLS');
      socket.destroy();
      return;
    }
    const secure = await handshake(socket, head.subarray(1), context as tls.SecureContext, options.tls.options);
    if (secure === undefined) {
      logger.warn({}, 'raft-router: TLS handshake failed; closing');
      return;
    }
    await route(secure, options, context, true, logger);
    return;
  }
  const handler = options.routes[byte];
  if (handler !== undefined) handler(socket, head.subarray(1));
  else if (options.fallback !== undefined) options.fallback(socket, head);
  else {
    logger.warn({ byte }, 'raft-router: no route for the first byte; closing');
    socket.destroy();
  }
}

/**
 * The first chunk of data, read in paused mode so the socket is left neither
 * flowing nor explicitly paused: whoever it goes to next starts it by
 * listening for 'data', as with a fresh socket. Undefined when it closes first.
 */
function firstChunk(socket: Duplex): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onReadable = (): void => {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      socket.destroy();
      resolve(undefined);
    };
    const cleanup = (): void => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}

/**
 * Server side of a TLS upgrade on an accepted socket, through a tls.Server
 * that never listens, so Node's own checks apply (client certificate
 * verification, rejectUnauthorized). Undefined (socket destroyed) on failure.
 */
function handshake(
  socket: Duplex,
  head: Buffer,
  context: tls.SecureContext,
  options: tls.TlsOptions,
): Promise<tls.TLSSocket | undefined> {
  return new Promise((resolve) => {
    const server = tls.createServer({ ...options, secureContext: context });
    server.once('secureConnection', (secure: tls.TLSSocket) => resolve(secure));
    server.once('tlsClientError', () => {
      socket.destroy();
      resolve(undefined);
    });
    // TLS reads a net.Socket's handle directly, past any bytes put back in
    // its stream: when the handshake's first bytes came with the routing
    // byte, hand TLS a stream that replays them first.
    server.emit('connection', head.length > 0 ? replaying(socket, head) : socket);
  });
}

/** A Duplex over `socket` that yields `head` before the socket's own bytes. */
function replaying(socket: Duplex, head: Buffer): Duplex {
  const wrapper = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  wrapper.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!wrapper.push(chunk)) socket.pause();
  });
  socket.once('end', () => wrapper.push(null));
  socket.once('close', () => wrapper.destroy());
  socket.on('error', (err) => wrapper.destroy(err));
  return wrapper;
}

function checkByte(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 255)
    throw new InvalidValueError(`${name} must be a byte (0-255), got ${value}`);
}
