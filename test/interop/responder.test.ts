/**
 * The TypeScript responder rules (go-peer.ts) on hand-made RPCs, without any
 * transport: each rule gives the answer the Go peer gives.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { LogType, RpcType, type AnyResponse } from '../../src/commands.ts';
import type { RPC } from '../../src/transport.ts';
import {
  all256,
  appendRequest,
  crc32,
  heartbeatRequest,
  logEntry,
  pseudoRandomBytes,
  respondDeterministically,
  serveDeterministically,
} from './go-peer.ts';

interface Answer {
  response: AnyResponse | null;
  error: Error | string | null | undefined;
}

function fakeRpc(type: number, command: unknown, reader?: Readable): { rpc: RPC; answers: Answer[] } {
  const answers: Answer[] = [];
  const rpc = {
    type,
    command,
    reader,
    respond(response: AnyResponse | null, error?: Error | string | null) {
      answers.push({ response, error });
    },
  } as unknown as RPC;
  return { rpc, answers };
}

describe('respondDeterministically', () => {
  it('AppendEntries: success iff leaderCommitIndex is the entries crc; lastLog = prev + count', async () => {
    const req = appendRequest({
      term: 7,
      prevLogEntry: 100,
      protocolVersion: 2,
      entries: [logEntry(101, 7, LogType.Command, all256()), logEntry(102, 7, LogType.Noop, null, new Uint8Array(0))],
    });
    const ok = fakeRpc(RpcType.AppendEntries, req);
    await respondDeterministically(ok.rpc, false);
    expect(ok.answers).toEqual([
      {
        response: { rpcHeader: { protocolVersion: 2 }, term: 7, lastLog: 102, success: true, noRetryBackoff: false },
        error: undefined,
      },
    ]);

    const bad = fakeRpc(RpcType.AppendEntries, { ...req, leaderCommitIndex: req.leaderCommitIndex + 1 });
    await respondDeterministically(bad.rpc, false);
    expect(bad.answers[0]?.response).toMatchObject({ success: false, lastLog: 102 });
  });

  it('AppendEntries: term 666 is the error "go says no" with a zero response', async () => {
    const { rpc, answers } = fakeRpc(RpcType.AppendEntries, heartbeatRequest(666));
    await respondDeterministically(rpc, true);
    expect(answers).toEqual([
      {
        response: { rpcHeader: { protocolVersion: 0 }, term: 0, lastLog: 0, success: false, noRetryBackoff: false },
        error: 'go says no',
      },
    ]);
  });

  it('heartbeats: noRetryBackoff marks the fast path', async () => {
    for (const via of [true, false]) {
      const { rpc, answers } = fakeRpc(RpcType.AppendEntries, heartbeatRequest(9, 1));
      await respondDeterministically(rpc, via);
      expect(answers[0]?.response).toEqual({
        rpcHeader: { protocolVersion: 1 },
        term: 9,
        lastLog: 0,
        success: true,
        noRetryBackoff: via,
      });
    }
  });

  it('RequestVote: term + 1, granted = leadershipTransfer, candidate echoed', async () => {
    const candidate = all256();
    const { rpc, answers } = fakeRpc(RpcType.RequestVote, {
      rpcHeader: { protocolVersion: 3 },
      term: 41,
      candidate,
      lastLogIndex: 5,
      lastLogTerm: 4,
      leadershipTransfer: true,
    });
    await respondDeterministically(rpc, false);
    expect(answers[0]?.response).toEqual({ rpcHeader: { protocolVersion: 3 }, term: 42, granted: true, peers: candidate });
  });

  it('InstallSnapshot: term = crc of the data read, success iff size bytes were read', async () => {
    const data = pseudoRandomBytes(100_000, 7);
    const chunks = [data.subarray(0, 1), data.subarray(1, 65_537), data.subarray(65_537)].map((c) => Buffer.from(c));
    const full = fakeRpc(
      RpcType.InstallSnapshot,
      { rpcHeader: { protocolVersion: 1 }, size: data.length },
      Readable.from(chunks),
    );
    await respondDeterministically(full.rpc, false);
    expect(full.answers[0]?.response).toEqual({ rpcHeader: { protocolVersion: 1 }, term: crc32(data), success: true });

    const short = fakeRpc(
      RpcType.InstallSnapshot,
      { rpcHeader: { protocolVersion: 1 }, size: 10 },
      Readable.from([Buffer.from('12345')]),
    );
    await respondDeterministically(short.rpc, false);
    expect(short.answers[0]?.response).toMatchObject({ success: false });
  });

  it('TimeoutNow echoes protocolVersion; RequestPreVote answers term + 1, granted', async () => {
    const tn = fakeRpc(RpcType.TimeoutNow, { rpcHeader: { protocolVersion: 3 } });
    await respondDeterministically(tn.rpc, false);
    expect(tn.answers[0]?.response).toEqual({ rpcHeader: { protocolVersion: 3 } });
    const pv = fakeRpc(RpcType.RequestPreVote, { rpcHeader: { protocolVersion: 3 }, term: 4, lastLogIndex: 1, lastLogTerm: 1 });
    await respondDeterministically(pv.rpc, false);
    expect(pv.answers[0]?.response).toEqual({ rpcHeader: { protocolVersion: 3 }, term: 5, granted: true });
  });

  it('serveDeterministically answers everything from a consumer and collects failures', async () => {
    const a = fakeRpc(RpcType.TimeoutNow, { rpcHeader: { protocolVersion: 0 } });
    const b = fakeRpc(RpcType.AppendEntries, heartbeatRequest(1));
    const broken = {
      type: RpcType.TimeoutNow,
      command: { rpcHeader: { protocolVersion: 0 } },
      respond() {
        throw new Error('boom');
      },
    } as unknown as RPC;
    const served = serveDeterministically({
      async *consumer() {
        yield a.rpc;
        yield broken;
        yield b.rpc;
      },
    });
    await served.done;
    expect(served.handled()).toBe(3);
    expect(a.answers).toHaveLength(1);
    expect(b.answers).toHaveLength(1);
    expect(served.errors).toEqual([new Error('boom')]);
  });
});
