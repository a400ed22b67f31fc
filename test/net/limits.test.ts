/**
 * Configurable limits, on both sides of the wire: what a peer can make us
 * buffer, allocate or hold open is bounded, and going over a limit closes
 * that one connection with a typed error.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type RemoteError, TransportError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { MessageWriter } from '../../src/net/codec/encoder.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import { appendReq, entry, pseudoRandom, serve, snapshotReq, voteReq } from '../helpers/fixtures.ts';
import { codeOf, transportError } from '../helpers/expect-errors.ts';
import { startRawServer } from '../helpers/raw-server.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function capture(): { logger: Logger; errors: TransportError[] } {
  const errors: TransportError[] = [];
  const keep = (obj: { err?: unknown }) => {
    if (obj.err instanceof TransportError) errors.push(obj.err);
  };
  return { logger: { debug: () => {}, info: () => {}, warn: keep, error: keep }, errors };
}

async function transport(opts: TCPTransportOptions = {}): Promise<NetworkTransport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 5_000, ...opts });
  cleanup.push(() => t.close());
  return t;
}

function rawConnect(addr: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(addr.split(':')[1]), '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    cleanup.push(() => void s.destroy());
  });
}

function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    else s.once('close', () => resolve());
  });
}

/** A raw server that answers the first request of each connection with the given bytes. */
async function evilServer(answer: Uint8Array, accepted: { count: number } = { count: 0 }): Promise<string> {
  const server = await startRawServer((s) => {
    accepted.count++;
    s.once('data', () => s.write(answer));
  });
  cleanup.push(() => server.close());
  return server.addr;
}

describe('server-side limits', () => {
  it('maxFrameSize: an oversized request is answered with the reason, and closes that connection only', async () => {
    const { logger, errors } = capture();
    const server = await transport({ logger, limits: { maxFrameSize: 4096 } });
    void serve(server);
    const client = await transport();
    const big = appendReq({ entries: [entry(1, new Uint8Array(8192))] });
    const err = await transportError(client.appendEntries('s', server.localAddr(), big));
    expect(err.code).toBe(ErrorCode.Remote);
    expect((err as RemoteError).remoteMessage).toMatch(/maxFrameSize \(4096\).*raise limits\.maxFrameSize/);
    expect(errors.map((e) => e.code)).toContain(ErrorCode.LimitExceeded);
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 3 }))).resolves.toMatchObject({ term: 3 });
  });

  it('maxEntries: too many entries in one AppendEntries is refused', async () => {
    const { logger, errors } = capture();
    const server = await transport({ logger, limits: { maxEntries: 10 } });
    void serve(server);
    const client = await transport();
    const ok = appendReq({ entries: Array.from({ length: 10 }, (_, i) => entry(i + 1)) });
    await expect(client.appendEntries('s', server.localAddr(), ok)).resolves.toMatchObject({ success: true });
    const tooMany = appendReq({ entries: Array.from({ length: 11 }, (_, i) => entry(i + 1)) });
    expect(await codeOf(client.appendEntries('s', server.localAddr(), tooMany))).toBe(ErrorCode.Remote);
    expect(errors.map((e) => e.code)).toContain(ErrorCode.LimitExceeded);
  });

  it('maxSnapshotSize: a snapshot declared too large is refused before its bytes are read', async () => {
    const { logger, errors } = capture();
    const server = await transport({ logger, maxSnapshotSize: 1024 * 1024 });
    void serve(server);
    const client = await transport();
    const size = 4 * 1024 * 1024;
    const code = await codeOf(client.installSnapshot('s', server.localAddr(), snapshotReq(size), pseudoRandom(size)));
    expect([ErrorCode.Remote, ErrorCode.ConnectionClosed, ErrorCode.PeerUnreachable]).toContain(code);
    expect(errors.map((e) => e.code)).toContain(ErrorCode.LimitExceeded);
  });

  it('maxConnections: connections beyond the limit are refused, the others keep working', async () => {
    const server = await transport({ maxConnections: 2 });
    void serve(server);
    const a = await rawConnect(server.localAddr());
    const b = await rawConnect(server.localAddr());
    const c = await rawConnect(server.localAddr());
    await closed(c);
    expect(a.destroyed || b.destroyed).toBe(false);
    a.destroy();
    await closed(a);
  });

  it('idleTimeout: a connection that sends half a frame and stops is cut (slowloris)', async () => {
    const { logger } = capture();
    const server = await transport({ logger, idleTimeout: 100 });
    void serve(server);
    const w = new MessageWriter();
    w.writeRequest(0, appendReq());
    const frame = w.take();
    const slow = await rawConnect(server.localAddr());
    slow.on('error', () => {});
    slow.write(frame.subarray(0, frame.length >> 1));
    const idle = await rawConnect(server.localAddr()); // silent between frames: left alone
    const client = await transport();
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 5 }))).resolves.toMatchObject({ term: 5 });
    await closed(slow);
    expect(idle.destroyed).toBe(false);
  });

  it('a declared 4 GiB string allocates nothing like 4 GiB', async () => {
    const server = await transport({ logger: capture().logger });
    void serve(server);
    const before = process.memoryUsage().arrayBuffers;
    const s = await rawConnect(server.localAddr());
    s.on('error', () => {});
    const answer: Buffer[] = [];
    s.on('data', (chunk: Buffer) => answer.push(chunk));
    s.write(Uint8Array.from([0x00, 0x81, 0xa4, ...Buffer.from('Term'), 0xdb, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed(s);
    expect(Buffer.concat(answer).toString('latin1')).toContain('exceeds maxFrameSize');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('client-side care: a broken or malicious server', () => {
  const u32 = [0xff, 0xff, 0xff, 0xff];
  const cases: Array<[string, number[], string]> = [
    ['an error string claiming 4 GiB', [0xdb, ...u32], ErrorCode.LimitExceeded],
    ['a response map claiming 4G pairs', [0xa0, 0xdf, ...u32], ErrorCode.LimitExceeded],
    ['deeply nested garbage', [0xa0, ...new Array<number>(1000).fill(0x91)], ErrorCode.LimitExceeded],
    ['a never-used byte', [0xc1], ErrorCode.Protocol],
    ['a Term above 2^53', [0xa0, 0x81, 0xa4, ...Buffer.from('Term'), 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0], ErrorCode.InvalidValue],
  ];
  for (const [name, bytes, code] of cases) {
    it(`fails the call with ${code} on ${name}`, async () => {
      const addr = await evilServer(Uint8Array.from(bytes));
      const client = await transport({ limits: { maxFrameSize: 1024 * 1024 } });
      expect(await codeOf(client.requestVote('evil', addr, voteReq()))).toBe(code);
    });
  }

  it('drops a connection that sends bytes nobody asked for, after the answer it owed', async () => {
    const accepted = { count: 0 };
    const answerAndJunk = [0xa0, 0x80, 0xa0, 0x80];
    const addr = await evilServer(Uint8Array.from(answerAndJunk), accepted);
    const client = await transport();
    await expect(client.requestVote('evil', addr, voteReq())).resolves.toMatchObject({ term: 0, granted: false });
    await expect(client.requestVote('evil', addr, voteReq())).resolves.toMatchObject({ term: 0 });
    // The second call could not reuse the first connection: it was poisoned.
    expect(accepted.count).toBe(2);
  });

  it('times out on a server that starts an answer and never finishes it', async () => {
    const addr = await evilServer(Uint8Array.from([0xa0, 0x84, 0xa4, 0x54]));
    const client = await transport({ timeout: 100 });
    expect(await codeOf(client.requestVote('evil', addr, voteReq()))).toBe(ErrorCode.RpcTimeout);
  });
});
