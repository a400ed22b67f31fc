import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { ServerAddress } from '../../commands.ts';
import { InvalidValueError, PeerUnreachableError, RpcAbortedError, RpcTimeoutError } from '../../errors.ts';
import type { Dialer } from './stream-layer.ts';
import { dialTCP, parseHostPort } from './tcp-stream-layer.ts';

/** What a PrefixDialer writes, and whether it upgrades to TLS first. */
export interface PrefixDialerOptions {
  /** Bytes written before Raft's first request, so the peer's server routes the socket to Raft (Consul: `[1]`, RPCRaft). */
  prefix: Uint8Array | readonly number[];
  /**
   * Upgrade to TLS before writing `prefix`: `tlsPrefix` goes out in plain text
   * (Consul: `[2]`, RPCTLS), then the handshake with `options`, then `prefix`
   * inside TLS.
   */
  tls?: { tlsPrefix: Uint8Array | readonly number[]; options: tls.ConnectionOptions };
  /** TCP keep-alive probe delay in ms; 0 disables (default 30 s). */
  keepAlive?: number;
}

/**
 * Dials a peer whose Raft shares a port with other protocols: opens TCP,
 * optionally upgrades to TLS, and writes the routing prefix, all within the
 * dial's deadline. The pair of a HandoffStreamLayer on the accepting side.
 */
export class PrefixDialer implements Dialer {
  private readonly prefix: Buffer;
  private readonly tlsPrefix: Buffer | undefined;
  private readonly tlsOptions: tls.ConnectionOptions | undefined;
  private readonly keepAlive: number;

  constructor(options: PrefixDialerOptions) {
    this.prefix = bytes(options.prefix, 'prefix');
    if (options.tls !== undefined) {
      this.tlsPrefix = bytes(options.tls.tlsPrefix, 'tls.tlsPrefix');
      this.tlsOptions = options.tls.options;
    }
    this.keepAlive = options.keepAlive ?? 30_000;
  }

  async dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    const deadline = performance.now() + timeoutMs;
    const socket = await dialTCP(address, timeoutMs, signal, this.keepAlive);
    if (this.tlsOptions === undefined) {
      socket.write(this.prefix);
      return socket;
    }
    socket.write(this.tlsPrefix as Buffer);
    const remaining = timeoutMs > 0 && Number.isFinite(timeoutMs) ? Math.max(1, deadline - performance.now()) : 0;
    const secure = await upgrade(socket, address, this.tlsOptions, remaining, signal);
    secure.write(this.prefix);
    return secure;
  }
}

function bytes(value: Uint8Array | readonly number[], name: string): Buffer {
  const out = Buffer.from(value as Uint8Array);
  if (out.length === 0) throw new InvalidValueError(`${name} must not be empty: the peer routes on it`);
  return out;
}

/** Runs the client TLS handshake over `socket`, verifying the server as the TLS layer does. */
function upgrade(
  socket: Duplex,
  address: ServerAddress,
  options: tls.ConnectionOptions,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const host = parseHostPort(address).host;
    // SNI carries names only (RFC 6066); an IP address is checked against the certificate's IP SANs all the same.
    const sni = isIP(host) === 0 ? { servername: host } : {};
    const secure = tls.connect({ ...sni, ...options, socket, rejectUnauthorized: true });
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      secure.off('secureConnect', onSecure);
      secure.off('error', onError);
      secure.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) {
        resolve(secure);
        return;
      }
      secure.on('error', () => {}); // a late alert must not become an unhandled 'error'
      secure.destroy();
      socket.destroy();
      reject(err);
    };
    const onSecure = (): void => done();
    const onError = (err: Error): void =>
      done(new PeerUnreachableError(`TLS handshake with ${address} failed: ${err.message}`, { cause: err }));
    const onClose = (): void => done(new PeerUnreachableError(`${address} closed the connection during the TLS handshake`));
    const onAbort = (): void => done(new RpcAbortedError(signal?.reason));
    secure.once('secureConnect', onSecure);
    secure.once('error', onError);
    secure.once('close', onClose);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0)
      timer = setTimeout(() => done(new RpcTimeoutError(`TLS handshake with ${address} timed out`, timeoutMs)), timeoutMs);
  });
}
