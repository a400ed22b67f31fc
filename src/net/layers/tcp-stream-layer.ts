import { isIP } from 'node:net';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
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
import type { StreamLayer } from './stream-layer.ts';

/** Socket tuning shared by inbound and outbound TCP connections. */
export interface TCPStreamLayerOptions {
  /**
   * The address peers dial, when it differs from the bind address (NAT,
   * binding 0.0.0.0). Must name a specific host: an unspecified address
   * (0.0.0.0, ::) is refused, as hashicorp does.
   */
  advertise?: ServerAddress;
  /** TCP keep-alive probe delay in ms; 0 disables (default 30 s). */
  keepAlive?: number;
  /** Inbound connections held at once; more are refused at accept (default 1024). */
  maxConnections?: number;
}

/** Splits "host:port" or "[v6]:port". */
export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) throw new InvalidValueError(`not a host:port address: ${JSON.stringify(addr)}`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Joins host and port, bracketing IPv6 hosts. */
export function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function isUnspecified(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Refuses an advertise address peers couldn't dial (0.0.0.0, ::). */
export function checkAdvertise(advertise: ServerAddress | undefined): void {
  if (advertise !== undefined && isUnspecified(parseHostPort(advertise).host)) {
    throw new InvalidValueError(`advertise address ${advertise} is not advertisable: name a specific host`);
  }
}

/**
 * Starts `server` listening on `bindAddr` and returns the address peers
 * should dial: `opts.advertise`, else the bound address. Binding an
 * unspecified host without an advertise address is refused, as in hashicorp.
 * Shared by the TCP and TLS layers.
 */
export async function listenAdvertised(
  server: net.Server,
  bindAddr: ServerAddress,
  opts: Pick<TCPStreamLayerOptions, 'advertise' | 'maxConnections'>,
): Promise<ServerAddress> {
  const { host, port } = parseHostPort(bindAddr);
  server.maxConnections = opts.maxConnections ?? 1024;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (opts.advertise !== undefined) return opts.advertise;
  if (isUnspecified(host)) {
    await new Promise<void>((r) => server.close(() => r()));
    throw new InvalidValueError(
      `local bind address ${bindAddr} is not advertisable: bind a specific host or pass an advertise address`,
    );
  }
  const bound = server.address() as net.AddressInfo;
  return joinHostPort(bound.address, bound.port);
}

/**
 * StreamLayer over plain TCP (`node:net`), with Nagle off, since every RPC is
 * latency-bound, and keep-alive on, so a vanished peer is eventually noticed
 * even on an idle pooled connection.
 */
export class TCPStreamLayer implements StreamLayer {
  private readonly server: net.Server;
  private readonly advertised: ServerAddress;
  private readonly keepAlive: number;
  private readonly accepted = new AsyncQueue<net.Socket>();
  private closing: Promise<void> | undefined;

  private constructor(server: net.Server, advertised: ServerAddress, keepAlive: number) {
    this.server = server;
    this.advertised = advertised;
    this.keepAlive = keepAlive;
    server.on('connection', (socket) => {
      tune(socket, keepAlive);
      if (!this.accepted.push(socket)) socket.destroy();
    });
    // Errors after listen (e.g. EMFILE on accept) are transient; the accept
    // loop is not involved in them, so they only need to not crash the process.
    server.on('error', () => {});
  }

  /** Binds `bindAddr` ("127.0.0.1:0" picks a free port) and starts listening. */
  static async listen(bindAddr: ServerAddress, opts: TCPStreamLayerOptions = {}): Promise<TCPStreamLayer> {
    checkAdvertise(opts.advertise);
    const server = net.createServer({ noDelay: true, pauseOnConnect: false });
    const advertised = await listenAdvertised(server, bindAddr, opts);
    return new TCPStreamLayer(server, advertised, opts.keepAlive ?? 30_000);
  }

  async accept(): Promise<Duplex> {
    const r = await this.accepted.next();
    if (r.done) throw new TransportShutdownError('stream layer closed');
    return r.value;
  }

  dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.closing !== undefined) return Promise.reject(new TransportShutdownError());
    return dialTCP(address, timeoutMs, signal, this.keepAlive);
  }

  addr(): ServerAddress {
    return this.advertised;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const s of this.accepted.close(true)) s.destroy();
      this.server.close(() => void handlesReleased().then(resolve));
    });
    return this.closing;
  }
}

/** Nagle off (every RPC is latency-bound) and keep-alive on (a vanished peer is noticed on idle pooled connections). */
function tune(socket: net.Socket, keepAlive: number): void {
  socket.setNoDelay(true);
  if (keepAlive > 0) socket.setKeepAlive(true, keepAlive);
}

/**
 * Opens a tuned TCP connection to "host:port", failing with
 * ERR_PEER_UNREACHABLE, ERR_RPC_TIMEOUT after `timeoutMs`, or ERR_ABORTED.
 * The one TCP dialer, shared by TCPStreamLayer and TCPDialer.
 */
export function dialTCP(
  address: ServerAddress,
  timeoutMs: number,
  signal?: AbortSignal,
  keepAlive = 30_000,
): Promise<net.Socket> {
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(address);
  } catch (err) {
    return Promise.reject(new PeerUnreachableError(`cannot dial ${address}: not a host:port address`, { cause: err }));
  }
  if (signal?.aborted) return Promise.reject(new RpcAbortedError(signal.reason));
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: hp.host, port: hp.port, noDelay: true });
    let timer: NodeJS.Timeout | undefined;
    const done = (err?: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        socket.destroy();
        reject(err);
      } else {
        tune(socket, keepAlive);
        resolve(socket);
      }
    };
    const onConnect = (): void => done();
    const onError = (err: Error): void =>
      done(new PeerUnreachableError(`failed to connect to ${address}: ${err.message}`, { cause: err }));
    const onAbort = (): void => done(new RpcAbortedError(signal?.reason));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => done(new RpcTimeoutError(`dial ${address} timed out`, timeoutMs)), timeoutMs);
    }
  });
}

/**
 * A StreamLayer that only dials: for clients and tools (the `probe` CLI)
 * that call peers without serving RPCs, so no port is opened.
 * `accept()` waits until the layer closes.
 */
export class TCPDialer implements StreamLayer {
  private readonly name: ServerAddress;
  private readonly keepAlive: number;
  private closed = false;
  private readonly waiting: Array<(err: Error) => void> = [];

  /** `name` is what `addr()` (and so `localAddr()`) reports, since nothing listens. */
  constructor(name: ServerAddress = 'tcp-dialer', opts: Pick<TCPStreamLayerOptions, 'keepAlive'> = {}) {
    this.name = name;
    this.keepAlive = opts.keepAlive ?? 30_000;
  }

  accept(): Promise<Duplex> {
    if (this.closed) return Promise.reject(new TransportShutdownError('stream layer closed'));
    return new Promise<Duplex>((_resolve, reject) => this.waiting.push(reject));
  }

  dial(address: ServerAddress, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.closed) return Promise.reject(new TransportShutdownError());
    return dialTCP(address, timeoutMs, signal, this.keepAlive);
  }

  addr(): ServerAddress {
    return this.name;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const reject of this.waiting.splice(0)) reject(new TransportShutdownError('stream layer closed'));
    return Promise.resolve();
  }
}
