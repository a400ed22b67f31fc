/**
 * NetworkTransport specifics beyond the shared conformance suite: the TCP
 * factory, address resolution, connection pooling and its reuse rules.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcType } from '../../src/commands.ts';
import { ErrorCode } from '../../src/errors.ts';
import { NetworkTransport } from '../../src/net/network-transport.ts';
import { TCPDialer } from '../../src/net/layers/tcp-stream-layer.ts';
import { newTCPTransport, type TCPTransportOptions } from '../../src/net/tcp-transport.ts';
import { echoResponder, serve, voteReq } from '../helpers/fixtures.ts';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function transport(opts: TCPTransportOptions = {}, bind = '127.0.0.1:0'): Promise<NetworkTransport> {
  const t = await newTCPTransport(bind, { timeout: 5_000, ...opts });
  cleanup.push(() => t.close());
  return t;
}

/** A transport whose server counts the connections it accepts. */
async function countingServer(): Promise<{ t: NetworkTransport; accepted: () => number }> {
  const t = await transport();
  void serve(t, (rpc) => (rpc.type === RpcType.TimeoutNow ? rpc.respond(null, 'remote says no') : echoResponder(rpc)));
  return { t, accepted: () => t.stats().inbound.connectionsOpen };
}

describe('newTCPTransport', () => {
  it('binds port 0 and reports the real port', async () => {
    const t = await transport();
    expect(t.localAddr()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(t.localAddr()).not.toMatch(/:0$/);
  });

  it('refuses an unspecified address unless told what to advertise', async () => {
    await expect(newTCPTransport('0.0.0.0:0')).rejects.toMatchObject({ code: ErrorCode.InvalidValue });
    await expect(newTCPTransport('127.0.0.1:0', { advertise: '0.0.0.0:8300' })).rejects.toMatchObject({
      code: ErrorCode.InvalidValue,
    });
    const t = await transport({ advertise: '10.1.2.3:8300' }, '0.0.0.0:0');
    expect(t.localAddr()).toBe('10.1.2.3:8300');
  });

  it('rejects a malformed bind address with a clear error', async () => {
    await expect(newTCPTransport('localhost')).rejects.toMatchObject({ code: ErrorCode.InvalidValue });
  });

  it('a TCPDialer transport calls peers without listening anywhere', async () => {
    const server = await transport();
    void serve(server);
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const client = new NetworkTransport(new TCPDialer('client-only'), { timeout: 5_000 });
    cleanup.push(() => client.close());
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length).toBe(before);
    expect(client.localAddr()).toBe('client-only');
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 9 }))).resolves.toMatchObject({ term: 9 });
  });

  it('refuses pipelining when maxRPCsInFlight < 2, as hashicorp does', async () => {
    const server = await transport();
    const client = await transport({ maxRPCsInFlight: 1 });
    await expect(client.appendEntriesPipeline('s', server.localAddr())).rejects.toMatchObject({
      code: ErrorCode.NotSupported,
    });
  });
});

describe('address resolution', () => {
  it('dials the address the serverAddressProvider gives for an ID', async () => {
    const server = await transport();
    void serve(server);
    const client = await transport({ serverAddressProvider: (id) => (id === 'node-2' ? server.localAddr() : undefined) });
    await expect(client.requestVote('node-2', 'stale-address:1', voteReq({ term: 4 }))).resolves.toMatchObject({ term: 4 });
  });

  it('falls back to the target when the provider has no answer or throws', async () => {
    const server = await transport();
    void serve(server);
    const client = await transport({
      serverAddressProvider: (id) => {
        if (id === 'boom') throw new Error('lookup failed');
        return undefined;
      },
    });
    await expect(client.requestVote('unknown', server.localAddr(), voteReq({ term: 5 }))).resolves.toMatchObject({ term: 5 });
    await expect(client.requestVote('boom', server.localAddr(), voteReq({ term: 6 }))).resolves.toMatchObject({ term: 6 });
  });
});

describe('connection pool', () => {
  it('reuses one connection for sequential calls', async () => {
    const { t: server, accepted } = await countingServer();
    const client = await transport();
    for (let i = 0; i < 20; i++) await client.requestVote('s', server.localAddr(), voteReq());
    expect(accepted()).toBe(1);
    expect(client.stats().peers[0]?.connectionsOpened).toBe(1);
  });

  it('keeps at most maxPool idle connections after a burst', async () => {
    const { t: server } = await countingServer();
    const client = await transport({ maxPool: 2 });
    await Promise.all(Array.from({ length: 16 }, () => client.requestVote('s', server.localAddr(), voteReq())));
    const opened = client.stats().peers[0]?.connectionsOpened ?? 0;
    expect(opened).toBeGreaterThan(2);
    // The surplus was closed; the next burst of two reuses the two kept.
    await Promise.all([
      client.requestVote('s', server.localAddr(), voteReq()),
      client.requestVote('s', server.localAddr(), voteReq()),
    ]);
    expect(client.stats().peers[0]?.connectionsOpened).toBe(opened);
  });

  it('keeps a connection after a remote error string, as Go does', async () => {
    const { t: server, accepted } = await countingServer();
    const client = await transport();
    await expect(client.timeoutNow('s', server.localAddr(), { rpcHeader: { protocolVersion: 3 } })).rejects.toMatchObject({
      code: ErrorCode.Remote,
      remoteMessage: 'remote says no',
    });
    await client.requestVote('s', server.localAddr(), voteReq());
    expect(accepted()).toBe(1);
  });

  it('discards a connection after a timeout, since its answer may still arrive', async () => {
    const server = await transport();
    let held = 0;
    void serve(server, (rpc) => {
      if (rpc.type === RpcType.RequestVote && held++ === 0) return; // first one never answered
      return echoResponder(rpc);
    });
    const client = await transport();
    await expect(client.requestVote('s', server.localAddr(), voteReq(), { timeout: 50 })).rejects.toMatchObject({
      code: ErrorCode.RpcTimeout,
    });
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 8 }))).resolves.toMatchObject({ term: 8 });
    expect(client.stats().peers[0]?.connectionsOpened).toBe(2);
  });

  it('closeStreams() drops pooled and inbound connections but keeps the transport working', async () => {
    const { t: server } = await countingServer();
    const client = await transport();
    await client.requestVote('s', server.localAddr(), voteReq());
    await client.closeStreams();
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 2 }))).resolves.toMatchObject({ term: 2 });
    expect(client.stats().peers[0]?.connectionsOpened).toBe(2);
    await server.closeStreams();
    // The pooled client connection was cut by the server: the next call notices and redials.
    const s = net.connect(Number(server.localAddr().split(':')[1]), '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.destroy();
    await expect(client.requestVote('s', server.localAddr(), voteReq({ term: 3 }))).resolves.toMatchObject({ term: 3 });
  });
});
