/**
 * The server side of a connection the way a Raft and its peers use it:
 * snapshots answered early or held unread while the transport closes, peers
 * that half-close or never read, and batches as big as the defaults promise.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyResponse, type InstallSnapshotRequest, type Log, LogType, RpcType } from '../../src/commands.ts';
import { channels, type ConnectionMessage } from '../../src/diagnostics.ts';
import { ErrorCode, type RemoteError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { decodeErrorString, decodeResponse } from '../../src/net/codec/decoder.ts';
import { MessageWriter } from '../../src/net/codec/encoder.ts';
import { FrameReader } from '../../src/net/codec/frame-reader.ts';
import { DEFAULT_DECODE_LIMITS, type WireFormat } from '../../src/net/codec/wire-format.ts';
import type { StreamLayer } from '../../src/net/layers/stream-layer.ts';
import { TCPStreamLayer } from '../../src/net/layers/tcp-stream-layer.ts';
import { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import type { InstallSnapshotRPC, RPC } from '../../src/transport.ts';
import { appendReq, echoResponder, pseudoRandom, serve, snapshotReq, timeoutNowReq, voteReq } from '../helpers/fixtures.ts';
import { observed, transportError } from '../helpers/expect-errors.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function transport(opts: TCPTransportOptions = {}): Promise<NetworkTransport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 10_000, ...opts });
  cleanup.push(() => t.close());
  return t;
}

/** Resolves with the next RPC of the given type the transport's consumer yields. */
async function nextRpc(t: NetworkTransport): Promise<RPC> {
  const r = await t.consumer()[Symbol.asyncIterator]().next();
  if (r.done) throw new Error('consumer ended');
  return r.value;
}

function rawConnect(addr: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(addr.split(':')[1]), '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    cleanup.push(() => void s.destroy());
  });
}

/** Everything the socket receives until the peer ends it. */
function readToEnd(s: net.Socket): Promise<Buffer> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    s.on('data', (chunk: Buffer) => got.push(chunk));
    s.once('end', () => resolve(Buffer.concat(got)));
    s.once('error', reject);
  });
}

/** Decodes hashicorp answers (error string + response map) of the given types from raw bytes. */
function decodeAnswers(bytes: Buffer, types: RpcType[]): Array<{ error: string; response: AnyResponse }> {
  const reader = new FrameReader();
  reader.push(bytes);
  const out: Array<{ error: string; response: AnyResponse }> = [];
  for (const type of types) {
    const e = reader.readValue();
    const r = reader.readValue();
    if (e === undefined || r === undefined) throw new Error(`answer ${out.length} incomplete`);
    out.push({ error: decodeErrorString(e), response: decodeResponse(type, r) });
  }
  expect(reader.buffered).toBe(0);
  return out;
}

function encodeRequests(...reqs: Array<[RpcType, Parameters<MessageWriter['writeRequest']>[1]]>): Buffer {
  const w = new MessageWriter();
  for (const [type, req] of reqs) w.writeRequest(type, req);
  return Buffer.from(w.take());
}

/** Resolves with the first inbound connection:close event published for `local`. */
function inboundClosed(local: string): Promise<ConnectionMessage> {
  return new Promise((resolve) => {
    const fn = (m: unknown): void => {
      const msg = m as ConnectionMessage;
      if (msg.direction !== 'inbound' || msg.local !== local) return;
      diagnosticsChannel.unsubscribe(channels.connectionClose.name, fn);
      resolve(msg);
    };
    diagnosticsChannel.subscribe(channels.connectionClose.name, fn);
    cleanup.push(() => void diagnosticsChannel.unsubscribe(channels.connectionClose.name, fn));
  });
}

function capture(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const keep = (_obj: unknown, msg?: string): void => void warnings.push(msg ?? '');
  return { logger: { debug: () => {}, info: () => {}, warn: keep, error: keep }, warnings };
}

describe('early answers to InstallSnapshot (#7)', () => {
  it('errors the reader of a snapshot answered before it was read, and the caller gets the answer', async () => {
    const server = await transport();
    const client = await transport();
    const size = 8 * 1024 * 1024;
    const call = observed(client.installSnapshot('s', server.localAddr(), snapshotReq(size), pseudoRandom(size)));
    const rpc = (await nextRpc(server)) as InstallSnapshotRPC;
    expect(rpc.type).toBe(RpcType.InstallSnapshot);
    // A Raft that finds the snapshot stale answers at once...
    rpc.respond({ rpcHeader: { protocolVersion: 3, id: null, addr: null }, term: 99, success: false });
    // ...and a task still reading the data learns that the rest is gone.
    const read = (async () => {
      for await (const _ of rpc.reader) {
        // drain
      }
    })();
    const err = await transportError(read);
    expect(err.code).toBe(ErrorCode.ConnectionClosed);
    expect(err.message).toMatch(/answered before its data was read/);
    // The leader reads that answer even though it was still sending.
    await expect(call).resolves.toMatchObject({ term: 99, success: false });
  });

  it('closes the connection of a peer that never reads nor closes, with its connection:close event', async () => {
    const server = await transport({ idleTimeout: 200, logger: capture().logger });
    const closedEvent = inboundClosed(server.localAddr());
    const raw = await rawConnect(server.localAddr());
    raw.on('error', () => {});
    raw.pause(); // never reads our answer
    const declared = 64 * 1024 * 1024;
    raw.write(encodeRequests([RpcType.InstallSnapshot, snapshotReq(declared)]));
    raw.write(Buffer.alloc(1024 * 1024));
    const rpc = (await nextRpc(server)) as InstallSnapshotRPC;
    rpc.respond(null, 'snapshot is stale');
    const msg = await closedEvent;
    expect(msg.direction).toBe('inbound');
    expect(server.stats().inbound.connectionsOpen).toBe(0);
    await expect(
      (async () => {
        for await (const _ of rpc.reader) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
  });
});

describe('a consumer holding an unread snapshot while the transport closes (#14)', () => {
  it('never crashes the process; the reader errors with ERR_TRANSPORT_SHUTDOWN when read', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    cleanup.push(() => {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    });
    const server = await transport();
    const client = await transport();
    const size = 16 * 1024 * 1024;
    const call = client.installSnapshot('s', server.localAddr(), snapshotReq(size), pseudoRandom(size));
    const failed = call.then(
      () => undefined,
      (err: unknown) => err,
    );
    const held = (await nextRpc(server)) as InstallSnapshotRPC; // busy elsewhere: not read yet
    await server.close();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(uncaught).toEqual([]);
    expect(await failed).toBeDefined();
    expect(held.reader.destroyed).toBe(true);
    await expect(
      (async () => {
        for await (const _ of held.reader) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: ErrorCode.TransportShutdown });
    expect(uncaught).toEqual([]);
  });
});

/**
 * A TCP transport whose test can wait for the server side of a connection to
 * see the peer's half-close (its 'end'), so answers can be held until after it.
 */
async function halfCloseWatcher(): Promise<{ server: NetworkTransport; peerEnded: Promise<void> }> {
  const layer = await TCPStreamLayer.listen('127.0.0.1:0');
  let sawEnd!: () => void;
  const peerEnded = new Promise<void>((r) => {
    sawEnd = r;
  });
  const watching: StreamLayer = {
    accept: async () => {
      const s = await layer.accept();
      s.once('end', () => sawEnd());
      return s;
    },
    dial: (addr, ms, signal) => layer.dial(addr, ms, signal),
    addr: () => layer.addr(),
    close: () => layer.close(),
  };
  const server = new NetworkTransport(watching, { timeout: 10_000 });
  cleanup.push(() => server.close());
  return { server, peerEnded };
}

describe('a client half-close (#11)', () => {
  it('answers the outstanding request and every complete request buffered behind it, in order, then closes', async () => {
    const { server, peerEnded } = await halfCloseWatcher();
    const raw = await rawConnect(server.localAddr());
    const all = observed(readToEnd(raw));
    raw.end(
      encodeRequests(
        [RpcType.RequestVote, voteReq({ term: 21 })],
        [RpcType.TimeoutNow, timeoutNowReq()],
        [RpcType.RequestVote, voteReq({ term: 22 })],
      ),
    );
    const first = await nextRpc(server);
    // A consumer slower than the peer: the half-close has been seen before any answer.
    await peerEnded;
    await echoResponder(first);
    void serve(server);
    const answers = decodeAnswers(await all, [RpcType.RequestVote, RpcType.TimeoutNow, RpcType.RequestVote]);
    expect(answers.map((a) => a.error)).toEqual(['', '', '']);
    expect(answers[0]?.response).toMatchObject({ term: 21 });
    expect(answers[2]?.response).toMatchObject({ term: 22 });
  });

  it('answers what is complete and drops a partial request left at the half-close', async () => {
    const { server, peerEnded } = await halfCloseWatcher();
    const raw = await rawConnect(server.localAddr());
    const all = observed(readToEnd(raw));
    const partial = encodeRequests([RpcType.RequestVote, voteReq({ term: 8 })]);
    raw.end(Buffer.concat([encodeRequests([RpcType.RequestVote, voteReq({ term: 7 })]), partial.subarray(0, 10)]));
    const rpc = await nextRpc(server);
    await peerEnded;
    await echoResponder(rpc);
    const [answer] = decodeAnswers(await all, [RpcType.RequestVote]);
    expect(answer?.response).toMatchObject({ term: 7 });
  });
});

describe('the default maxFrameSize (#13)', () => {
  const MiB = 1024 * 1024;
  const data = new Uint8Array(MiB).fill(7);
  /** Entries as costly to encode as they get: every integer 64-bit wide, AppendedAt set. */
  const worstEntries = (n: number, extensions = 0): Log[] =>
    Array.from({ length: n }, (_, i) => ({
      index: Number.MAX_SAFE_INTEGER - n + i,
      term: Number.MAX_SAFE_INTEGER,
      type: LogType.Configuration,
      data: extensions > 0 ? data.subarray(extensions) : data,
      extensions: extensions > 0 ? data.subarray(0, extensions) : null,
      appendedAt: new Date(Date.UTC(2262, 3, 11, 23, 47, 16, 854)),
    }));
  const worstBatch = (extensions = 0) =>
    appendReq({
      term: Number.MAX_SAFE_INTEGER,
      prevLogEntry: Number.MAX_SAFE_INTEGER - 64, // the echo answers prevLogEntry + 64
      prevLogTerm: Number.MAX_SAFE_INTEGER,
      leaderCommitIndex: Number.MAX_SAFE_INTEGER,
      entries: worstEntries(64, extensions),
    });

  it('fits 64 entries of 1 MiB (Data plus Extensions) in every wire format', () => {
    const cases: Array<[WireFormat, number]> = [
      [{}, 0],
      [{}, MiB / 2],
      [{ timeFormat: 'msgpack' }, 4096],
      [{ fields: 'v1.1' }, 0],
    ];
    for (const [format, extensions] of cases) {
      {
        const w = new MessageWriter(format);
        w.writeRequest(RpcType.AppendEntries, worstBatch(extensions));
        const frame = w.pending - 1; // the type byte is not part of the msgpack value
        expect(frame).toBeGreaterThan(64 * MiB);
        expect(frame).toBeLessThanOrEqual(DEFAULT_DECODE_LIMITS.maxFrameSize);
      }
    }
  });

  it('accepts that batch over TCP with default limits', async () => {
    const server = await transport();
    void serve(server);
    const client = await transport();
    await expect(client.appendEntries('s', server.localAddr(), worstBatch())).resolves.toMatchObject({ success: true });
  });

  it('tells both operators about a refused frame: the follower logs the limit, the leader gets the reason', async () => {
    const { logger, warnings } = capture();
    const server = await transport({ logger, limits: { maxFrameSize: 32 * MiB } });
    void serve(server);
    const client = await transport();
    const err = await transportError(client.appendEntries('s', server.localAddr(), worstBatch()));
    expect(err.code).toBe(ErrorCode.Remote);
    expect((err as RemoteError).remoteMessage).toMatch(
      /^AppendEntries refused by .*exceeds maxFrameSize \(33554432\).*raise limits\.maxFrameSize/,
    );
    expect(warnings.some((w) => /maxFrameSize.*raise NetworkTransportOptions\.limits\.maxFrameSize/.test(w))).toBe(true);
    // The next call works (on a new connection).
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 4 }))).resolves.toMatchObject({ term: 4 });
  });

  it('answers a snapshot over maxSnapshotSize with the reason too', async () => {
    const { logger, warnings } = capture();
    const server = await transport({ logger, maxSnapshotSize: MiB });
    void serve(server);
    const client = await transport();
    const size = 4 * MiB;
    const req: InstallSnapshotRequest = snapshotReq(size);
    const err = await transportError(client.installSnapshot('s', server.localAddr(), req, pseudoRandom(size)));
    expect(err.code).toBe(ErrorCode.Remote);
    expect((err as RemoteError).remoteMessage).toMatch(/exceeds maxSnapshotSize \(1048576\).*raise maxSnapshotSize/);
    expect(warnings.some((w) => /raise NetworkTransportOptions\.maxSnapshotSize/.test(w))).toBe(true);
  });
});
