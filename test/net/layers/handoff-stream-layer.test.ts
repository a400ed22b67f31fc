import http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.ts';
import { RpcType } from '../../../src/commands.ts';
import { MessageWriter } from '../../../src/net/codec/encoder.ts';
import { firstByteRouter, type FirstByteRouterOptions } from '../../../src/net/layers/first-byte-router.ts';
import { HandoffStreamLayer } from '../../../src/net/layers/handoff-stream-layer.ts';
import { PrefixDialer, type PrefixDialerOptions } from '../../../src/net/layers/prefix-dialer.ts';
import { NetworkTransport } from '../../../src/net/network-transport.ts';
import { runTransportConformance } from '../../conformance/transport-suite.ts';
import { haveOpenssl, makeTestPKI } from '../../helpers/certs.ts';
import { closedPort, expectCode, observed, rejection } from '../../helpers/expect-errors.ts';
import { appendReq, serve } from '../../helpers/fixtures.ts';
import { within } from '../../helpers/within.ts';

const RAFT = 1; // Consul's RPCRaft
const TLS = 2; // Consul's RPCTLS
const pki = (await haveOpenssl()) ? await makeTestPKI() : undefined;

/** One node: a net.Server on one port serving HTTP and Raft, routed on the first byte. */
interface SharedPortNode {
  server: net.Server;
  http: http.Server;
  layer: HandoffStreamLayer;
  transport: NetworkTransport;
  addr: string;
  close(): Promise<void>;
}

interface NodeOptions {
  dialer?: PrefixDialerOptions;
  router?: Partial<FirstByteRouterOptions>;
  authorize?: (socket: Duplex) => boolean | Promise<boolean>;
  timeout?: number;
  maxRPCsInFlight?: number;
  localID?: string;
}

async function sharedPortNode(opts: NodeOptions = {}): Promise<SharedPortNode> {
  const api = http.createServer((req, res) => res.end(`hello from ${req.url}`));
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const layer = new HandoffStreamLayer({
    advertise: addr,
    dialer: new PrefixDialer(opts.dialer ?? { prefix: [RAFT] }),
    ...(opts.authorize !== undefined ? { authorize: opts.authorize } : {}),
  });
  server.on(
    'connection',
    firstByteRouter({
      routes: { [RAFT]: (socket, head) => layer.handoff(socket, head) },
      fallback: (socket, head) => {
        socket.unshift(head);
        api.emit('connection', socket);
      },
      ...opts.router,
    }),
  );
  const transport = new NetworkTransport(layer, {
    timeout: opts.timeout ?? 5_000,
    maxRPCsInFlight: opts.maxRPCsInFlight,
    localID: opts.localID,
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    server,
    http: api,
    layer,
    transport,
    addr,
    async close() {
      await transport.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const open: SharedPortNode[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((n) => n.close()));
});
async function node(opts?: NodeOptions): Promise<SharedPortNode> {
  const n = await sharedPortNode(opts);
  open.push(n);
  return n;
}

function httpGet(addr: string, path: string): Promise<string> {
  const [host, port] = addr.split(':') as [string, string];
  const got = new Promise<string>((resolve, reject) => {
    http
      .get({ host, port: Number(port), path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  return within(`the HTTP answer to GET ${path}`, got);
}

/** Resolves once `socket` connected (bounded). */
function connected(socket: net.Socket): Promise<void> {
  return within('the connection', new Promise<void>((resolve) => socket.once('connect', () => resolve())));
}

/** Resolves once the TLS handshake of `socket` completed (bounded). */
function secureConnected(socket: tls.TLSSocket): Promise<void> {
  return within('the TLS handshake', new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())));
}

/** The first bytes `socket` receives: the answer to a request (bounded, so a handoff that never happens fails here). */
function answer(socket: Duplex): Promise<Buffer> {
  return within(
    'an answer to the request sent after the routing byte',
    new Promise<Buffer>((resolve) => socket.once('data', resolve)),
  );
}

/** Resolves when `socket` closes (bounded); with the bytes it received meanwhile. */
function closed(socket: net.Socket): Promise<number> {
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  socket.on('error', () => {});
  return within('the server closing the connection', new Promise((resolve) => socket.once('close', () => resolve(received))));
}

runTransportConformance({
  name: 'NetworkTransport over a HandoffStreamLayer (Raft and HTTP on one port)',
  sameObjects: false,
  unreachableAddr: closedPort,
  async makeCluster(n, opts = {}) {
    const nodes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        sharedPortNode({ timeout: opts.timeout ?? 5_000, maxRPCsInFlight: opts.maxInFlight, localID: opts.localIDs?.[i] }),
      ),
    );
    return {
      transports: nodes.map((x) => x.transport),
      close: async () => {
        await Promise.all(nodes.map((x) => x.close()));
      },
    };
  },
});

describe('Raft on a shared port', () => {
  it('serves HTTP and Raft on the same port', async () => {
    const [a, b] = [await node(), await node()];
    void serve(b.transport);
    expect(await httpGet(b.addr, '/status')).toBe('hello from /status');
    const resp = await a.transport.appendEntries('b', b.addr, appendReq({ term: 7 }));
    expect(resp.term).toBe(7);
    expect(await httpGet(b.addr, '/again')).toBe('hello from /again');
  });

  it('puts back bytes read past the routing byte: prefix and first request in one write', async () => {
    const b = await node();
    void serve(b.transport);
    const w = new MessageWriter();
    w.writeRequest(RpcType.AppendEntries, appendReq({ term: 9 }));
    const request = w.take();
    const socket = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
    await connected(socket);
    const answered = answer(socket);
    socket.write(Buffer.concat([Buffer.from([RAFT]), request]));
    // An answer means the server decoded the whole request, first byte included.
    expect((await answered).length).toBeGreaterThan(0);
    socket.destroy();
  });

  it('copies the bytes put back, so the caller may reuse its buffer as soon as handoff returns', async () => {
    let b: SharedPortNode | undefined;
    b = await node({
      router: {
        routes: {
          [RAFT]: (socket, head) => {
            b!.layer.handoff(socket, head);
            head.fill(0xc1); // a byte msgpack never uses: a reader still looking at this buffer fails
          },
        },
      },
    });
    const terms: number[] = [];
    void serve(b.transport, (rpc) => {
      if (rpc.type === RpcType.AppendEntries) terms.push(rpc.command.term);
      rpc.respond(null, 'seen');
    });
    const w = new MessageWriter();
    w.writeRequest(RpcType.AppendEntries, appendReq({ term: 11 }));
    const request = w.take();
    const socket = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
    await connected(socket);
    const answered = answer(socket);
    socket.write(Buffer.concat([Buffer.from([RAFT]), request]));
    expect((await answered).length).toBeGreaterThan(0);
    expect(terms).toEqual([11]);
    socket.destroy();
  });

  it('drops connections its authorize hook refuses, before Raft sees them', async () => {
    const seen: string[] = [];
    const b = await node({
      authorize: async (socket) => {
        const remote = (socket as net.Socket).remotePort;
        seen.push(String(remote));
        return false;
      },
    });
    const a = await node();
    void serve(b.transport);
    expect(b.transport.stats().inbound.rpcsReceived).toBe(0);
    const err = await rejection(a.transport.appendEntries('b', b.addr, appendReq(), { timeout: 2_000 }));
    expectCode(err, ErrorCode.ConnectionClosed);
    expect(seen.length).toBeGreaterThan(0);
    expect(b.transport.stats().inbound.rpcsReceived).toBe(0);
  });

  it('closes a connection that sends no routing byte within the handshake deadline', async () => {
    const b = await node({ router: { handshakeTimeout: 50 } });
    const socket = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
    expect(await closed(socket)).toBe(0);
  });

  it('closes connections whose first byte has no route when there is no fallback', async () => {
    const b = await node({ router: { fallback: undefined } });
    const socket = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
    socket.write(Buffer.from([0x7f, 1, 2, 3]));
    expect(await closed(socket)).toBe(0);
  });

  it('destroys handed-off connections that were never accepted when the layer closes', async () => {
    const layer = new HandoffStreamLayer({ advertise: '127.0.0.1:1', dialer: new PrefixDialer({ prefix: [RAFT] }) });
    const server = net.createServer((s) => layer.handoff(s, Buffer.alloc(0)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const clients: net.Socket[] = [];
    try {
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      clients.push(socket);
      const gone = observed(closed(socket));
      const accepted = await within('accept() taking the handed-off connection', layer.accept());
      accepted.destroy();
      const second = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      clients.push(second);
      const secondGone = observed(closed(second));
      await connected(second);
      await layer.close();
      await Promise.all([gone, secondGone]);
      expectCode(await rejection(layer.accept()), ErrorCode.TransportShutdown);
    } finally {
      // A failed step leaves nothing behind.
      for (const c of clients) c.destroy();
      await layer.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe.skipIf(pki === undefined)('with a TLS upgrade byte (Consul RPCTLS, then RPCRaft inside TLS)', () => {
    const tlsNode = (): Promise<SharedPortNode> => {
      const p = pki as NonNullable<typeof pki>;
      return node({
        dialer: { prefix: [RAFT], tls: { tlsPrefix: [TLS], options: { ca: p.ca, key: p.peer.key, cert: p.peer.cert } } },
        router: {
          tls: {
            byte: TLS,
            options: { ca: p.ca, key: p.peer.key, cert: p.peer.cert, requestCert: true, rejectUnauthorized: true },
          },
        },
      });
    };

    it('upgrades to mutual TLS, then routes to Raft inside it', async () => {
      const [a, b] = [await tlsNode(), await tlsNode()];
      void serve(b.transport);
      expect((await a.transport.appendEntries('b', b.addr, appendReq({ term: 11 }))).term).toBe(11);
      expect(b.transport.stats().inbound.rpcsReceived).toBe(1);
    });

    it('upgrades when the TLS byte and the ClientHello arrive in one chunk', async () => {
      const p = pki as NonNullable<typeof pki>;
      const b = await tlsNode();
      void serve(b.transport);
      const raw = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
      await connected(raw);
      // A shim that glues the routing byte to TLS's first write, so both leave in one segment.
      let first = true;
      const shim = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          raw.write(first ? Buffer.concat([Buffer.from([TLS]), chunk]) : chunk, callback);
          first = false;
        },
      });
      raw.on('data', (d: Buffer) => shim.push(d));
      const secure = tls.connect({
        socket: shim,
        ca: p.ca,
        key: p.peer.key,
        cert: p.peer.cert,
        checkServerIdentity: () => undefined,
      });
      await secureConnected(secure);
      const w = new MessageWriter();
      w.writeRequest(RpcType.AppendEntries, appendReq({ term: 12 }));
      const answered = answer(secure);
      secure.write(Buffer.concat([Buffer.from([RAFT]), w.take()]));
      expect((await answered).length).toBeGreaterThan(0);
      expect(b.transport.stats().inbound.rpcsReceived).toBe(1);
      secure.destroy();
      raw.destroy();
    });

    it('refuses TLS inside TLS', async () => {
      const p = pki as NonNullable<typeof pki>;
      const b = await tlsNode();
      const raw = net.connect(Number(b.addr.split(':')[1]), '127.0.0.1');
      await connected(raw);
      raw.write(Buffer.from([TLS]));
      const secure = tls.connect({ socket: raw, ca: p.ca, key: p.peer.key, cert: p.peer.cert });
      await secureConnected(secure);
      const gone = closed(secure);
      secure.write(Buffer.from([TLS]));
      await gone;
      expect(b.transport.stats().inbound.rpcsReceived).toBe(0);
    });

    it('refuses a client without a certificate from the cluster CA', async () => {
      const p = pki as NonNullable<typeof pki>;
      const b = await tlsNode();
      const impostor = new PrefixDialer({
        prefix: [RAFT],
        tls: { tlsPrefix: [TLS], options: { ca: p.ca, key: p.impostor.key, cert: p.impostor.cert } },
      });
      const err = await rejection(
        (async () => {
          const s = await impostor.dial(b.addr, 2_000);
          // TLS 1.3 reports a refused client certificate after the handshake: wait for the hang-up.
          await within(
            'the server hanging up on the impostor',
            new Promise<void>((resolve, reject) => {
              s.on('error', reject);
              s.once('close', () => reject(new Error('closed')));
              s.once('data', () => resolve());
            }),
          );
        })(),
      );
      expect(err).toBeInstanceOf(Error);
      expect(b.transport.stats().inbound.rpcsReceived).toBe(0);
    });
  });
});
