import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import type { ServerAddress } from '../../commands.ts';
import {
  InvalidValueError,
  PeerUnreachableError,
  RpcAbortedError,
  RpcTimeoutError,
  TransportShutdownError,
} from '../../errors.ts';
import { AsyncQueue } from '../../internal/async-queue.ts';
import { handlesReleased } from '../../internal/handles-released.ts';
import { defaultLogger, type Logger } from '../../logger.ts';
import type { StreamLayer } from './stream-layer.ts';
import { checkAdvertise, joinHostPort, listenAdvertised, parseHostPort, type TCPStreamLayerOptions } from './tcp-stream-layer.ts';

/** PEM text or bytes, as node:tls takes them. */
export type PEM = string | Buffer;

/**
 * The credentials a node presents and trusts. One certificate serves both
 * roles: Raft peers dial each other, so every node is a TLS client and server.
 */
export interface TLSCredentials {
  /** Private key of `cert`. */
  key: PEM;
  /** This node's certificate chain; must be valid for both serverAuth and clientAuth. */
  cert: PEM;
  /** The CA(s) peers' certificates must chain to, both inbound and outbound. */
  ca: PEM | PEM[];
}

/** Mutual-TLS settings on top of the TCP layer's socket tuning. */
export interface TLSStreamLayerOptions extends TCPStreamLayerOptions, TLSCredentials {
  /** Oldest protocol accepted either way (default TLSv1.2, as Go's crypto/tls). */
  minVersion?: tls.SecureVersion;
  /** Newest protocol offered (default TLSv1.3). */
  maxVersion?: tls.SecureVersion;
  /**
   * Name checked against the server's certificate (and sent as SNI) instead of
   * the dialed host, for certificates that name the cluster rather than each
   * IP. Without it an IP address is checked against the certificate's IP SANs.
   */
  servername?: string;
  /** Replaces hostname verification of the server certificate; return an Error to refuse it. */
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
  /**
   * Under TLS 1.3 a client finishes its handshake before the server has checked
   * the client certificate, so a refusal would only show up on first use as a
   * broken connection. By default a dial therefore waits for the server's
   * first post-handshake message (a session ticket, which Node and Go servers
   * send once they accepted the client) so that a refusal fails the dial with
   * ERR_PEER_UNREACHABLE. Set false for peers that disable session tickets.
   */
  confirmAcceptance?: boolean;
  /** Inbound handshakes must finish within this many ms (default 10 s); slow or silent clients are dropped. */
  handshakeTimeout?: number;
  /** Where rejected inbound handshakes are reported (warn level); silent unless NODE_DEBUG=raft-transport. */
  logger?: Logger;
}

/**
 * StreamLayer over mutual TLS: inbound peers must present a certificate that
 * chains to our CA, and we verify every server we dial the same way, so only
 * cluster members can send (or answer) Raft RPCs. Credentials can be swapped
 * with `reload` without dropping established connections, for rotation.
 */
export class TLSStreamLayer implements StreamLayer {
  private readonly server: tls.Server;
  private readonly advertised: ServerAddress;
  private readonly keepAlive: number;
  private readonly opts: TLSStreamLayerOptions;
  private readonly logger: Logger;
  private readonly accepted = new AsyncQueue<tls.TLSSocket>();
  /** Raw sockets whose handshake has not completed, so close() can cut them. */
  private readonly handshaking = new Set<net.Socket>();
  private clientContext: tls.SecureContext;
  private failures = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    server: tls.Server,
    advertised: ServerAddress,
    opts: TLSStreamLayerOptions,
    clientContext: tls.SecureContext,
  ) {
    this.server = server;
    this.advertised = advertised;
    this.opts = opts;
    this.keepAlive = opts.keepAlive ?? 30_000;
    this.logger = opts.logger ?? defaultLogger;
    this.clientContext = clientContext;
    server.on('connection', (raw: net.Socket) => {
      raw.setNoDelay(true);
      if (this.keepAlive > 0) raw.setKeepAlive(true, this.keepAlive);
      this.handshaking.add(raw);
      raw.once('close', () => this.handshaking.delete(raw));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.handshakeDone(socket);
      // Node already destroys unauthorised sockets when rejectUnauthorized is set; this is a second lock.
      if (!socket.authorized) {
        socket.destroy();
        return;
      }
      if (!this.accepted.push(socket)) socket.destroy();
    });
    server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.failures++;
      const remote = socket.remoteAddress !== undefined ? joinHostPort(socket.remoteAddress, socket.remotePort ?? 0) : 'unknown';
      const reason =
        socket.authorizationError !== undefined
          ? new Error(`client certificate refused: ${String(socket.authorizationError)}`, { cause: err })
          : err;
      this.logger.warn({ err: reason, remote }, 'raft-tls: dropped inbound connection that failed the TLS handshake');
    });
    // As in the TCP layer: errors after listen are transient and must not crash the process.
    server.on('error', () => {});
  }

  /** Binds `bindAddr` ("127.0.0.1:0" picks a free port) and starts listening with mutual TLS. */
  static async listen(bindAddr: ServerAddress, opts: TLSStreamLayerOptions): Promise<TLSStreamLayer> {
    checkAdvertise(opts.advertise);
    const resolved: TLSStreamLayerOptions = {
      ...opts,
      minVersion: opts.minVersion ?? 'TLSv1.2',
      maxVersion: opts.maxVersion ?? 'TLSv1.3',
    };
    checkUsages(resolved.cert);
    const clientContext = createContext(resolved, resolved);
    const server = tls.createServer({
      ...contextOptions(resolved, resolved),
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: opts.handshakeTimeout ?? 10_000,
    });
    const advertised = await listenAdvertised(server, bindAddr, opts);
    return new TLSStreamLayer(server, advertised, resolved, clientContext);
  }

  /** Inbound handshakes refused so far (bad, missing or untrusted client certificates, non-TLS bytes). */
  get handshakeFailures(): number {
    return this.failures;
  }

  /**
   * Swaps the credentials without a restart (certificate rotation): new
   * inbound handshakes and new dials use them; established connections keep
   * the ones they were made with. `ca` defaults to the current CA. Throws
   * ERR_INVALID_VALUE, leaving the old credentials in force, when the new ones
   * don't load (e.g. key and certificate don't match).
   */
  reload(creds: { key: PEM; cert: PEM; ca?: PEM | PEM[] }): void {
    const next: TLSCredentials = { key: creds.key, cert: creds.cert, ca: creds.ca ?? this.opts.ca };
    checkUsages(next.cert);
    const clientContext = createContext(this.opts, next);
    try {
      this.server.setSecureContext(contextOptions(this.opts, next));
    } catch (err) {
      throw new InvalidValueError(`cannot load TLS credentials: ${(err as Error).message}`);
    }
    this.clientContext = clientContext;
    this.opts.key = next.key;
    this.opts.cert = next.cert;
    this.opts.ca = next.ca;
  }

  async accept(): Promise<Duplex> {
    const r = await this.accepted.next();
    if (r.done) throw new TransportShutdownError('stream layer closed');
    return r.value;
  }

  dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.closing !== undefined) return Promise.reject(new TransportShutdownError());
    let hp: { host: string; port: number };
    try {
      hp = parseHostPort(address);
    } catch (err) {
      return Promise.reject(new PeerUnreachableError(`cannot dial ${address}: not a host:port address`, { cause: err }));
    }
    if (signal?.aborted) return Promise.reject(new RpcAbortedError(signal.reason));
    const confirm = this.opts.confirmAcceptance ?? true;
    return new Promise<Duplex>((resolve, reject) => {
      const connectOpts: tls.ConnectionOptions = {
        host: hp.host,
        port: hp.port,
        secureContext: this.clientContext,
        rejectUnauthorized: true,
      };
      if (this.opts.servername !== undefined) connectOpts.servername = this.opts.servername;
      if (this.opts.checkServerIdentity !== undefined) connectOpts.checkServerIdentity = this.opts.checkServerIdentity;
      const socket = tls.connect(connectOpts);
      let timer: NodeJS.Timeout | undefined;
      let immediate: NodeJS.Immediate | undefined;
      let secured = false;
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        if (immediate !== undefined) clearImmediate(immediate);
        socket.off('secureConnect', onSecure);
        socket.off('session', onSession);
        socket.off('error', onError);
        socket.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          socket.destroy();
          // A late TLS alert must not become an unhandled 'error' event.
          socket.on('error', ignore);
          reject(err);
        } else {
          socket.setNoDelay(true);
          if (this.keepAlive > 0) socket.setKeepAlive(true, this.keepAlive);
          resolve(socket);
        }
      };
      const onSecure = (): void => {
        secured = true;
        if (!socket.authorized) {
          done(
            new PeerUnreachableError(
              `TLS handshake with ${address} failed: server certificate not trusted: ${String(socket.authorizationError)}`,
            ),
          );
        } else if (!confirm || socket.getProtocol() !== 'TLSv1.3') {
          done();
        }
      };
      // The ticket arrives inside OpenSSL's read callback, and a write issued
      // before that callback unwinds (even from a microtask or nextTick) is
      // never flushed: hand the socket over on the next turn of the loop.
      const onSession = (): void => {
        if (secured && immediate === undefined) immediate = setImmediate(() => done());
      };
      const onError = (err: Error): void => {
        const code = (err as NodeJS.ErrnoException).code;
        let what = secured ? 'the server refused our certificate' : 'TLS handshake failed';
        // Node's TLS server refuses an untrusted client certificate by hanging up, without an alert.
        if (!secured && code === 'ECONNRESET') what += ' (the peer may have refused our certificate)';
        const reason = code !== undefined && !err.message.includes(code) ? `${err.message.trim()} (${code})` : err.message.trim();
        done(new PeerUnreachableError(`failed to connect to ${address}: ${what}: ${reason}`, { cause: err }));
      };
      const onClose = (): void =>
        done(
          new PeerUnreachableError(
            secured
              ? `failed to connect to ${address}: the server closed the connection after the handshake (it refused our certificate: is it signed by a CA the peer trusts, and not expired?)`
              : `failed to connect to ${address}: connection closed during the TLS handshake (the peer may have refused our certificate)`,
          ),
        );
      const onAbort = (): void => done(new RpcAbortedError(signal?.reason));
      socket.once('secureConnect', onSecure);
      socket.on('session', onSession);
      socket.once('error', onError);
      socket.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => done(new RpcTimeoutError(`dial ${address} timed out`, timeoutMs)), timeoutMs);
      }
    });
  }

  addr(): ServerAddress {
    return this.advertised;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const s of this.accepted.close(true)) s.destroy();
      this.server.close(() => void handlesReleased().then(resolve));
      // Server.close() waits for every connection; a handshake that never
      // completes would hold it until handshakeTimeout, so cut those now.
      for (const raw of [...this.handshaking]) raw.destroy();
    });
    return this.closing;
  }

  /** A handshake finished: the socket is no longer ours to cut on close. */
  private handshakeDone(socket: tls.TLSSocket): void {
    // The server hands us the TLSSocket, not the raw socket it wraps; a live
    // connection is identified by its remote address and port.
    for (const raw of this.handshaking) {
      if (raw.remotePort === socket.remotePort && raw.remoteAddress === socket.remoteAddress) {
        this.handshaking.delete(raw);
        return;
      }
    }
  }
}

function ignore(): void {}

const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

/**
 * Refuses a node certificate whose extended key usages leave out serverAuth or
 * clientAuth. Every node both accepts and dials, so the peer would refuse such
 * a certificate during the handshake, where the only symptom is a hang-up that
 * looks like an untrusted CA. A certificate without the extension allows every
 * usage and passes.
 */
function checkUsages(cert: PEM): void {
  let usages: string[] | undefined;
  try {
    // The first certificate of a chain is the node's own.
    usages = new X509Certificate(cert).keyUsage;
  } catch (err) {
    throw new InvalidValueError(`cannot parse the TLS certificate: ${(err as Error).message}`);
  }
  if (usages === undefined || usages.length === 0) return;
  const missing = (Object.keys(EKU) as Array<keyof typeof EKU>).filter((name) => !usages.includes(EKU[name]));
  if (missing.length > 0) {
    throw new InvalidValueError(
      `the TLS certificate lacks the ${missing.join(' and ')} extended key usage: Raft nodes both accept and dial, ` +
        'so peers would refuse it; issue it with extendedKeyUsage=serverAuth,clientAuth',
    );
  }
}

function contextOptions(opts: TLSStreamLayerOptions, creds: TLSCredentials): tls.SecureContextOptions {
  const out: tls.SecureContextOptions = { key: creds.key, cert: creds.cert, ca: creds.ca };
  if (opts.minVersion !== undefined) out.minVersion = opts.minVersion;
  if (opts.maxVersion !== undefined) out.maxVersion = opts.maxVersion;
  return out;
}

function createContext(opts: TLSStreamLayerOptions, creds: TLSCredentials): tls.SecureContext {
  try {
    return tls.createSecureContext(contextOptions(opts, creds));
  } catch (err) {
    throw new InvalidValueError(`cannot load TLS credentials: ${(err as Error).message}`);
  }
}
