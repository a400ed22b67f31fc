import type {
  AppendEntriesRequest,
  InstallSnapshotRequest,
  Log,
  RequestPreVoteRequest,
  RequestVoteRequest,
  TimeoutNowRequest,
} from '../../src/commands.ts';
import { LogType, RpcType } from '../../src/commands.ts';
import { ErrorCode, isTransportError } from '../../src/errors.ts';
import type { RPC, Transport } from '../../src/transport.ts';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export function allBytes(): Uint8Array {
  const b = new Uint8Array(256);
  for (let i = 0; i < 256; i++) b[i] = i;
  return b;
}

export function entry(index: number, data: Uint8Array | null = enc(`entry-${index}`), term = 1): Log {
  return { index, term, type: LogType.Command, data, extensions: null, appendedAt: null };
}

export function appendReq(over: Partial<AppendEntriesRequest> = {}): AppendEntriesRequest {
  return {
    rpcHeader: { protocolVersion: 3, id: enc('leader-1'), addr: enc('leader-addr') },
    term: 10,
    leader: enc('leader-addr'),
    prevLogEntry: 100,
    prevLogTerm: 4,
    entries: [entry(101), entry(102, allBytes())],
    leaderCommitIndex: 90,
    ...over,
  };
}

export function heartbeatReq(term = 7): AppendEntriesRequest {
  return {
    rpcHeader: { protocolVersion: 3, id: enc('leader-1'), addr: enc('leader-addr') },
    term,
    leader: enc('leader-addr'),
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
  };
}

export function voteReq(over: Partial<RequestVoteRequest> = {}): RequestVoteRequest {
  return {
    rpcHeader: { protocolVersion: 3, id: enc('cand'), addr: enc('cand-addr') },
    term: 11,
    candidate: enc('cand-addr'),
    lastLogIndex: 10,
    lastLogTerm: 9,
    leadershipTransfer: false,
    ...over,
  };
}

export function preVoteReq(over: Partial<RequestPreVoteRequest> = {}): RequestPreVoteRequest {
  return {
    rpcHeader: { protocolVersion: 3, id: enc('cand'), addr: enc('cand-addr') },
    term: 12,
    lastLogIndex: 5,
    lastLogTerm: 4,
    ...over,
  };
}

export function snapshotReq(size: number, over: Partial<InstallSnapshotRequest> = {}): InstallSnapshotRequest {
  return {
    rpcHeader: { protocolVersion: 3, id: enc('leader-1'), addr: enc('leader-addr') },
    snapshotVersion: 1,
    term: 13,
    leader: enc('leader-addr'),
    lastLogIndex: 500,
    lastLogTerm: 12,
    peers: null,
    configuration: enc('config'),
    configurationIndex: 400,
    size,
    ...over,
  };
}

export function timeoutNowReq(): TimeoutNowRequest {
  return { rpcHeader: { protocolVersion: 3, id: enc('leader-1'), addr: enc('leader-addr') } };
}

/** Deterministic pseudo-random bytes, produced in chunks so nothing holds the whole. */
export async function* pseudoRandom(size: number, chunk = 64 * 1024, seed = 1): AsyncGenerator<Uint8Array> {
  let x = seed >>> 0 || 1;
  for (let off = 0; off < size; off += chunk) {
    const n = Math.min(chunk, size - off);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    yield b;
  }
}

/**
 * Answers every RPC with a response derived from the request, so callers
 * can check what arrived: the answer echoes the request's numbers back.
 */
export async function echoResponder(rpc: RPC): Promise<void> {
  switch (rpc.type) {
    case RpcType.AppendEntries: {
      const c = rpc.command;
      rpc.respond({
        rpcHeader: { protocolVersion: c.rpcHeader.protocolVersion, id: enc('follower'), addr: enc('follower-addr') },
        term: c.term,
        lastLog: c.prevLogEntry + (c.entries?.length ?? 0),
        success: true,
        noRetryBackoff: false,
      });
      return;
    }
    case RpcType.RequestVote:
      rpc.respond({
        rpcHeader: { protocolVersion: 3, id: null, addr: null },
        term: rpc.command.term,
        peers: rpc.command.candidate,
        granted: rpc.command.leadershipTransfer,
      });
      return;
    case RpcType.RequestPreVote:
      rpc.respond({ rpcHeader: { protocolVersion: 3, id: null, addr: null }, term: rpc.command.term + 1, granted: true });
      return;
    case RpcType.TimeoutNow:
      rpc.respond({ rpcHeader: rpc.command.rpcHeader });
      return;
    case RpcType.InstallSnapshot: {
      const hash = await crcOf(rpc.reader);
      rpc.respond({ rpcHeader: { protocolVersion: 3, id: null, addr: null }, term: hash, success: true });
      return;
    }
  }
}

/** CRC-32 of a byte stream (for checking snapshot bytes end to end). */
export async function crcOf(stream: AsyncIterable<Uint8Array>): Promise<number> {
  const { crc32 } = await import('node:zlib');
  let c = 0;
  for await (const chunk of stream) c = crc32(chunk, c);
  return c;
}

/** Runs `handler` for every RPC until the transport closes; returns a promise for the loop. */
export function serve(t: Transport, handler: (rpc: RPC) => void | Promise<void> = echoResponder): Promise<void> {
  return (async () => {
    for await (const rpc of t.consumer()) {
      // A handler that throws at once must not end the loop: run it here, catch both ways.
      let handled: Promise<void>;
      try {
        handled = Promise.resolve(handler(rpc));
      } catch (err) {
        handled = Promise.reject(err);
      }
      void handled.catch((err: unknown) => {
        try {
          rpc.respond(null, err instanceof Error ? err : String(err));
        } catch {
          // already answered
        }
      });
    }
  })();
}

/** Counts the process's timers, to check that close() leaves none behind. */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/**
 * Sends `requests` through one pipeline to `target`, consuming each settled
 * future as a Raft replication loop does (which frees window slots), and
 * resolves with how many were answered once all were. Rejects with what
 * stopped it: a failed future's error, or the sender's when a request could
 * not be sent (then the pipeline is closed before the consumer is awaited,
 * since the futures of requests never sent would never come). The pipeline
 * is closed either way.
 */
export async function pipelineAll(
  t: Transport,
  id: string,
  target: string,
  requests: Iterable<AppendEntriesRequest>,
): Promise<number> {
  const pipeline = await t.appendEntriesPipeline(id, target);
  const reqs = [...requests];
  try {
    const answered = (async () => {
      let n = 0;
      if (reqs.length === 0) return n;
      for await (const f of pipeline.consumer()) {
        await f.wait();
        if (++n === reqs.length) return n;
      }
      return n;
    })();
    answered.catch(() => pipeline.close()); // a failed future must also stop a sender waiting for a slot
    try {
      for (const r of reqs) await pipeline.appendEntries(r);
    } catch (err) {
      // Close first: the consumer then ends instead of waiting for futures of requests never sent.
      await pipeline.close();
      const futureError = await answered.then(
        () => undefined,
        (e: unknown) => e,
      );
      // A sender stopped by a pipeline that had already shut down (a future
      // failed, the connection broke): the failed future carries the cause.
      throw futureError !== undefined && isTransportError(err, ErrorCode.PipelineShutdown) ? futureError : err;
    }
    return await answered;
  } finally {
    await pipeline.close();
  }
}
