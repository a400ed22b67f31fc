/**
 * The readers keep views of what a net.Socket delivers instead of copying
 * it (src/net/conn/socket-memory.ts). That is only sound while Node gives
 * every 'data' chunk memory of its own and never writes it again; these
 * tests pin that down on the Node we run, for TCP and TLS (over TCP or over
 * a Duplex that reuses its Buffers), and check end to
 * end that entries and snapshot bytes a consumer keeps without copying stay
 * intact while the connection goes on reading. Any other Duplex, a subclass
 * of net.Socket included, may reuse what it pushed: there the consumer must
 * get copies.
 */
import * as net from 'node:net';
import { type Duplex, PassThrough } from 'node:stream';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendEntriesRequest } from '../../../src/commands.ts';
import { RpcType } from '../../../src/commands.ts';
import { copiesOnWrite, freshReadChunks } from '../../../src/net/conn/socket-memory.ts';
import { appendEntriesResponse } from '../../../src/builders.ts';
import type { StreamLayer } from '../../../src/net/layers/stream-layer.ts';
import { TCPStreamLayer } from '../../../src/net/layers/tcp-stream-layer.ts';
import { NetworkTransport } from '../../../src/net/network-transport.ts';
import { newTCPTransport } from '../../../src/net/tcp-transport.ts';
import type { RPC } from '../../../src/transport.ts';
import { haveOpenssl, makeTestPKI } from '../../helpers/certs.ts';
import { observed } from '../../helpers/expect-errors.ts';
import { appendReq, entry, pipelineAll, pseudoRandom, snapshotReq } from '../../helpers/fixtures.ts';
import { type ReusingBase, ReusingNetwork, reusingPair } from '../../helpers/reusing-stream-layer.ts';

const pki = (await haveOpenssl()) ? await makeTestPKI() : undefined;

/**
 * Writes a mix of small and large buffers through `client`, and checks every
 * chunk `server` received; returns the chunks and, for each, a copy taken on
 * arrival.
 */
async function checkChunks(server: net.Socket, client: net.Socket): Promise<{ chunks: Buffer[]; copies: Buffer[] }> {
  const chunks: Buffer[] = [];
  const copies: Buffer[] = [];
  server.on('data', (c: Buffer) => {
    chunks.push(c);
    copies.push(Buffer.from(c));
  });
  const ended = new Promise<void>((resolve) => server.once('end', () => resolve()));
  for (let i = 0; i < 600; i++) client.write(Buffer.alloc(i % 3 === 0 ? 70_000 : 100, i & 0xff));
  client.end();
  await ended;
  expect(chunks.length).toBeGreaterThan(1);
  expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  let changed = 0;
  for (let i = 0; i < chunks.length; i++) if (!chunks[i]!.equals(copies[i]!)) changed++;
  expect(changed).toBe(0);
  return { chunks, copies };
}

/** Entry i's 40 KiB: most arrive inside one 64 KiB read chunk, so the follower gets views of it. */
const ENTRY = 40 * 1024;
function payload(i: number): Buffer {
  const b = Buffer.alloc(ENTRY);
  for (let k = 0; k < ENTRY; k += 4) b.writeUInt32LE(((i + 1) * 2_654_435_761 + k * 40_503) >>> 0, k);
  return b;
}
function request(index: number): AppendEntriesRequest {
  return appendReq({
    term: 1,
    prevLogEntry: index - 1,
    prevLogTerm: 1,
    entries: [entry(index, payload(index))],
    leaderCommitIndex: 0,
  });
}

/**
 * A follower that keeps what it is given without copying, as an in-memory
 * log store and a snapshot sink that defers its writes would.
 */
function keepingFollower(follower: NetworkTransport): {
  stored: Map<number, Uint8Array>;
  snapshotChunks: Uint8Array[];
  serving: Promise<void>;
} {
  const stored = new Map<number, Uint8Array>();
  const snapshotChunks: Uint8Array[] = [];
  const serving = observed(
    (async () => {
      for await (const rpc of follower.consumer() as AsyncIterable<RPC>) {
        if (rpc.type === RpcType.AppendEntries) {
          for (const e of rpc.command.entries ?? []) if (e.data !== null) stored.set(e.index, e.data);
          rpc.respond(appendEntriesResponse({ term: 1, lastLog: rpc.command.prevLogEntry + 1, success: true }));
        } else if (rpc.type === RpcType.InstallSnapshot) {
          for await (const chunk of rpc.reader) snapshotChunks.push(chunk);
          rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 1, success: true });
        }
      }
    })(),
  );
  return { stored, snapshotChunks, serving };
}

/** Entries 1..`entries` and the `size`-byte snapshot (seed 7, 48 KiB chunks) are what the leader sent. */
async function expectIntact(
  stored: Map<number, Uint8Array>,
  entries: number,
  snapshotChunks: Uint8Array[],
  size: number,
): Promise<void> {
  let corrupt = 0;
  for (let i = 1; i <= entries; i++) if (!payload(i).equals(stored.get(i) ?? new Uint8Array(0))) corrupt++;
  expect(corrupt).toBe(0);
  const want: Uint8Array[] = [];
  for await (const c of pseudoRandom(size, 48 * 1024, 7)) want.push(c);
  expect(Buffer.concat(snapshotChunks).equals(Buffer.concat(want))).toBe(true);
}

/** A StreamLayer that notes the memory behind every chunk its accepted connections deliver. */
class ChunkWatchingLayer implements StreamLayer {
  /** The ArrayBuffer of every 'data' chunk of every accepted connection. */
  readonly delivered = new WeakSet<ArrayBufferLike>();
  private readonly inner: StreamLayer;

  constructor(inner: StreamLayer) {
    this.inner = inner;
  }

  async accept(): Promise<Duplex> {
    const socket = await this.inner.accept();
    socket.on('data', (chunk: Buffer) => this.delivered.add(chunk.buffer));
    // Listening set the socket flowing: pause it again, so no chunk goes by before the transport listens too.
    socket.pause();
    return socket;
  }

  dial(address: string, timeoutMs: number, signal?: AbortSignal): Promise<Duplex> {
    return this.inner.dial(address, timeoutMs, signal);
  }

  addr(): string {
    return this.inner.addr();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('what a socket does with memory', () => {
  it('only Node sockets are trusted with it: any other Duplex passes Buffers by reference', () => {
    const tcp = new net.Socket();
    expect(copiesOnWrite(tcp)).toBe(true);
    expect(freshReadChunks(tcp)).toBe(true);
    const pair = new PassThrough();
    expect(copiesOnWrite(pair)).toBe(false);
    expect(freshReadChunks(pair)).toBe(false);
    tcp.destroy();
    pair.destroy();
  });

  it('a subclass of net.Socket or tls.TLSSocket is not trusted: it may override push, _read or write and reuse Buffers', () => {
    class WrappedSocket extends net.Socket {}
    class WrappedTLSSocket extends tls.TLSSocket {}
    const inner = new net.Socket();
    const plainTLS = new tls.TLSSocket(inner);
    expect(copiesOnWrite(plainTLS)).toBe(true);
    expect(freshReadChunks(plainTLS)).toBe(true);
    const innerOfSub = new net.Socket();
    const subs = [new WrappedSocket(), new WrappedTLSSocket(innerOfSub)];
    for (const sub of subs) {
      expect(sub).toBeInstanceOf(net.Socket);
      expect(copiesOnWrite(sub)).toBe(false);
      expect(freshReadChunks(sub)).toBe(false);
    }
    for (const s of [plainTLS, ...subs, inner, innerOfSub]) s.destroy();
  });

  it('a TCP socket gives every chunk an ArrayBuffer of its own, never written again', async () => {
    const accepted = new Promise<net.Socket>((resolve) => {
      const server = net.createServer((s) => {
        server.close();
        resolve(s);
      });
      server.listen(0, '127.0.0.1', () => {
        client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      });
    });
    let client: net.Socket | undefined;
    const s = await accepted;
    for (const socket of [s, client!]) {
      expect(copiesOnWrite(socket)).toBe(true);
      expect(freshReadChunks(socket)).toBe(true);
    }
    await checkChunks(s, client!);
    s.destroy();
  });

  it.skipIf(pki === undefined)('so does a TLS socket', async () => {
    const p = pki!;
    const accepted = new Promise<tls.TLSSocket>((resolve) => {
      const server = tls.createServer({ key: p.peer.key, cert: p.peer.cert }, (s) => {
        server.close();
        resolve(s);
      });
      server.listen(0, '127.0.0.1', () => {
        client = tls.connect({
          port: (server.address() as net.AddressInfo).port,
          host: '127.0.0.1',
          ca: p.ca,
          checkServerIdentity: () => undefined,
        });
      });
    });
    let client: tls.TLSSocket | undefined;
    const s = await accepted;
    for (const socket of [s, client!]) {
      expect(copiesOnWrite(socket)).toBe(true);
      expect(freshReadChunks(socket)).toBe(true);
    }
    await checkChunks(s, client!);
    s.destroy();
  });

  it.skipIf(pki === undefined)(
    'so does a TLS socket layered over a Duplex that reuses its Buffers: it decrypts into memory of its own',
    async () => {
      const p = pki!;
      const [serverEnd, clientEnd] = reusingPair('duplex');
      const server = new tls.TLSSocket(serverEnd, { isServer: true, key: p.peer.key, cert: p.peer.cert });
      const client = tls.connect({ socket: clientEnd, ca: p.ca, checkServerIdentity: () => undefined });
      // Exactly tls.TLSSocket, so the transport trusts both: that must be sound over any Duplex.
      for (const socket of [server, client]) {
        expect(copiesOnWrite(socket)).toBe(true);
        expect(freshReadChunks(socket)).toBe(true);
      }
      const { chunks, copies } = await checkChunks(server, client);
      // Everything was read: the Duplex underneath may now overwrite all it pushed (the ciphertext), and does.
      serverEnd.reuse();
      clientEnd.reuse();
      expect(chunks.filter((c) => serverEnd.pushedFrom(c.buffer) || clientEnd.pushedFrom(c.buffer))).toHaveLength(0);
      expect(chunks.filter((c, i) => !c.equals(copies[i]!))).toHaveLength(0);
      server.destroy();
      client.destroy();
    },
  );
});

describe('kept without copying, over real TCP', () => {
  const open: NetworkTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('entries and snapshot chunks a follower stores as given are views of read chunks, intact while the connection reads on', async () => {
    const leader = await newTCPTransport('127.0.0.1:0', { timeout: 10_000 });
    const followerLayer = new ChunkWatchingLayer(await TCPStreamLayer.listen('127.0.0.1:0'));
    const follower = new NetworkTransport(followerLayer, { timeout: 10_000 });
    open.push(leader, follower);
    const ENTRIES = 300;
    const SNAPSHOT = 4 * 1024 * 1024;

    const { stored, snapshotChunks, serving } = keepingFollower(follower);

    const target = follower.localAddr();
    const all = Array.from({ length: ENTRIES }, (_, i) => request(i + 1));
    expect(await pipelineAll(leader, 'follower', target, all)).toBe(ENTRIES);
    const resp = await leader.installSnapshot('follower', target, snapshotReq(SNAPSHOT), pseudoRandom(SNAPSHOT, 48 * 1024, 7));
    expect(resp.success).toBe(true);
    // More traffic on fresh reads after everything above was handed out.
    for (let i = ENTRIES + 1; i <= ENTRIES + 20; i++) await leader.appendEntries('follower', target, request(i));

    // The fast path was taken: some entries and snapshot chunks are views of the socket's read chunks, not copies.
    const views = (kept: Uint8Array[]): number => kept.filter((b) => followerLayer.delivered.has(b.buffer)).length;
    expect(views([...stored.values()]), "entries kept as views of the follower socket's read chunks").toBeGreaterThan(0);
    expect(views(snapshotChunks), "snapshot chunks kept as views of the follower socket's read chunks").toBeGreaterThan(0);
    await expectIntact(stored, ENTRIES + 20, snapshotChunks, SNAPSHOT);

    await Promise.all([leader.close(), follower.close()]);
    await serving;
  });
});

describe('copied, over a StreamLayer whose Duplex reuses the Buffers it pushed', () => {
  const open: NetworkTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it.each<ReusingBase>(['duplex', 'net.Socket subclass'])(
    '%s: entries and snapshot chunks a follower stores are copies, intact after the Duplex reuses its Buffers',
    async (base) => {
      const network = new ReusingNetwork(base);
      const leader = new NetworkTransport(network.listen(), { timeout: 10_000 });
      const follower = new NetworkTransport(network.listen(), { timeout: 10_000 });
      open.push(leader, follower);
      const ENTRIES = 40;
      const SNAPSHOT = 1024 * 1024;

      const { stored, snapshotChunks, serving } = keepingFollower(follower);

      // One call at a time: once a call is answered the follower has read
      // its request, so the Duplex may reuse what it pushed (the StreamLayer
      // contract), and does.
      const target = follower.localAddr();
      for (let i = 1; i <= ENTRIES; i++) {
        await leader.appendEntries('follower', target, request(i));
        network.reuseAll();
      }
      const resp = await leader.installSnapshot('follower', target, snapshotReq(SNAPSHOT), pseudoRandom(SNAPSHOT, 48 * 1024, 7));
      expect(resp.success).toBe(true);
      network.reuseAll();

      const kept = [...stored.values(), ...snapshotChunks];
      expect(kept.filter((b) => network.pushedFrom(b.buffer)).length, 'views of Buffers the Duplex reuses').toBe(0);
      await expectIntact(stored, ENTRIES, snapshotChunks, SNAPSHOT);

      await Promise.all([leader.close(), follower.close()]);
      await serving;
    },
  );
});
