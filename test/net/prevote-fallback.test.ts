/**
 * Client-side pre-vote fallback without Go: a scripted peer that behaves like
 * hashicorp/raft before 1.7 (reads the type byte 4 and closes) must give a
 * PreVoteNotSupportedError, remembered for that peer only; other RPCs and
 * other peers are unaffected. The live check against Go 1.1.2/1.5.0/1.7.3 is
 * in test/interop/ts-go.test.ts.
 */
import type net from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { ConnectionClosedError, PreVoteNotSupportedError } from '../../src/errors.ts';
import { RpcType } from '../../src/commands.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import type { Transport } from '../../src/transport.ts';
import { type RawServer, startRawServer } from '../helpers/raw-server.ts';

const req = { rpcHeader: { protocolVersion: 3 }, term: 3, lastLogIndex: 1, lastLogTerm: 1 };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A peer like Go < 1.7: on RPC type 4 it closes the connection without a byte; counts connections. */
async function oldGoPeer(): Promise<RawServer & { connections: () => number }> {
  let connections = 0;
  const server = await startRawServer((s: net.Socket) => {
    connections++;
    s.once('data', (d: Buffer) => {
      if (d[0] === 4) s.destroy();
    });
  });
  cleanups.push(() => server.close());
  return Object.assign(server, { connections: () => connections });
}

async function client(): Promise<Transport> {
  const t = await newTCPTransport('127.0.0.1:0', { timeout: 5_000 });
  cleanups.push(() => t.close());
  return t;
}

describe('requestPreVote against a peer without pre-vote', () => {
  it('rejects with PreVoteNotSupportedError (cause: the closed connection), then fails fast from memory', async () => {
    const peer = await oldGoPeer();
    const t = await client();
    const first = await t.requestPreVote('old', peer.addr, req).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(PreVoteNotSupportedError);
    expect(first).toMatchObject({ code: 'ERR_NOT_SUPPORTED', peer: peer.addr, remembered: false });
    expect((first as Error).cause).toBeInstanceOf(ConnectionClosedError);
    expect(peer.connections()).toBe(2); // one close alone proves nothing: asked again on a fresh connection

    const second = await t.requestPreVote('old', peer.addr, req).catch((e: unknown) => e);
    expect(second).toMatchObject({ code: 'ERR_NOT_SUPPORTED', remembered: true });
    expect(peer.connections()).toBe(2); // nothing dialed
  });

  it('another peer is not affected by one that lacks pre-vote', async () => {
    const old = await oldGoPeer();
    const other = await oldGoPeer();
    const t = await client();
    await expect(t.requestPreVote('old', old.addr, req)).rejects.toMatchObject({ remembered: false });
    await expect(t.requestPreVote('other', other.addr, req)).rejects.toMatchObject({ remembered: false });
    expect(other.connections()).toBe(2);
  });

  it('other RPCs that lose their connection stay ERR_CONNECTION_CLOSED', async () => {
    const server = await startRawServer((s) => s.once('data', () => s.destroy()));
    cleanups.push(() => server.close());
    const t = await client();
    await expect(t.timeoutNow('x', server.addr, { rpcHeader: { protocolVersion: 3 } })).rejects.toBeInstanceOf(
      ConnectionClosedError,
    );
  });

  it('a peer with pre-vote whose first connection is cut (a restart, an idle cut) answers the second try; nothing is remembered', async () => {
    // The real peer, reached through a front that cuts the first connection as soon as the request arrives.
    const real = await newTCPTransport('127.0.0.1:0');
    cleanups.push(() => real.close());
    void (async () => {
      for await (const rpc of real.consumer()) {
        if (rpc.type === RpcType.RequestPreVote) rpc.respond({ rpcHeader: { protocolVersion: 3 }, term: 3, granted: true });
        else rpc.respond(null, 'unexpected');
      }
    })();
    let connections = 0;
    const front = await startRawServer((s: net.Socket) => {
      if (++connections === 1) {
        s.once('data', () => s.destroy());
        return;
      }
      const [host, port] = [
        real.localAddr().slice(0, real.localAddr().lastIndexOf(':')),
        Number(real.localAddr().split(':').pop()),
      ];
      const up = connect(port, host);
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
      s.on('close', () => up.destroy());
    });
    cleanups.push(() => front.close());
    const t = await client();
    await expect(t.requestPreVote('new', front.addr, req)).resolves.toMatchObject({ granted: true });
    expect(connections).toBe(2);
    await expect(t.requestPreVote('new', front.addr, req)).resolves.toMatchObject({ granted: true });
  });

  it('a peer that closes and then stops listening (shutting down) is unreachable, not "without pre-vote"', async () => {
    let server: RawServer | undefined;
    server = await startRawServer((s: net.Socket) => {
      s.once('data', () => {
        const closing = server?.close();
        server = undefined;
        s.destroy();
        void closing;
      });
    });
    const addr = server.addr;
    cleanups.push(async () => server?.close());
    const t = await client();
    const err = await t.requestPreVote('leaving', addr, req).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(PreVoteNotSupportedError);
    expect(err).toMatchObject({ code: 'ERR_PEER_UNREACHABLE' });
  });
});
