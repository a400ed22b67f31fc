/**
 * Harness for the Go interop peer (test/interop/peer, built on hashicorp/raft's
 * own NetworkTransport): finds Go, builds the peer once per source version,
 * runs it as a server, client or benchmark, and implements in TypeScript the
 * same deterministic responder rules the Go server follows.
 *
 * DETERMINISTIC RESPONDER RULES (keep in step with peer/main.go). Every
 * response echoes the request's `rpcHeader.protocolVersion` unless said
 * otherwise.
 *
 * - AppendEntries:
 *   1. `term === 666`: respond with the error "go says no" and an all-zero
 *      response (protocolVersion 0 too).
 *   2. Otherwise: `term = req.term`, `lastLog = req.prevLogEntry + entries.length`,
 *      `noRetryBackoff = true` iff the RPC came through the heartbeat handler,
 *      `success = (entriesCrc(req.entries) === req.leaderCommitIndex)`, where
 *      `entriesCrc` is CRC-32 (IEEE) over, per entry in order,
 *      index (8 bytes big-endian) | term (8 bytes BE) | type (1 byte) | data | extensions.
 *      A client sending entries therefore sets `leaderCommitIndex` to that crc
 *      (see `appendRequest`) and expects `success`: every payload byte is
 *      checked end to end. No entries give crc 0, so a heartbeat gets
 *      `{term, lastLog: 0, success: true}` with `noRetryBackoff` telling
 *      whether the fast path handled it.
 * - RequestVote: `term = req.term + 1`, `granted = req.leadershipTransfer`,
 *   `peers = req.candidate` (bytes echoed).
 * - InstallSnapshot: read the snapshot data to the end (exactly `size` bytes);
 *   `term` = CRC-32 (IEEE) of the data, `success = (bytes read === size)`.
 * - TimeoutNow: echo protocolVersion.
 * - RequestPreVote (TS servers and Go 1.7.3; Go 1.1.2 and 1.5.0 drop the
 *   connection on type 4): `term = req.term + 1`, `granted = true`.
 *
 * Go 1.1.2 facts worth knowing: go-msgpack 0.5.5 decodes an empty byte string
 * into a nil slice, so a Go server echoes an empty `candidate` as null and
 * does not treat a heartbeat with an empty (non-null) leader as a heartbeat;
 * the Go pipeline depth is the fixed rpcMaxPipeline = 128. 1.5.0 shares the
 * nil quirk (same go-msgpack) but its pipeline depth is MaxRPCsInFlight
 * (default 2); 1.7.3 (go-msgpack v2) keeps empty byte strings empty. The peer
 * builds against each (`version` options; test/helpers/go-build.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import {
  RpcType,
  type AppendEntriesRequest,
  type AppendEntriesResponse,
  type Bytes,
  type Log,
  type LogType,
} from '../../src/commands.ts';
import type { RPC } from '../../src/transport.ts';
import {
  buildGoProgram,
  DEBIAN_GOPATH,
  GO_VERSIONS,
  type GoRaftVersion,
  goAvailable,
  goEnv,
  goSkipReason,
} from '../helpers/go-build.ts';
import { type RunResult, runProcess } from '../helpers/run-process.ts';

export const GOPATH = DEBIAN_GOPATH;
export const RAFT_SRC_DIR = path.join(GOPATH, 'src/github.com/hashicorp/raft');
export const PEER_DIR = fileURLToPath(new URL('./peer/', import.meta.url));
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export { GO_VERSIONS, type GoRaftVersion, goAvailable, goEnv, goSkipReason };

/**
 * Builds the peer against raft `version` (default Debian's 1.1.2), once per
 * process and source hash (see test/helpers/go-build.ts); resolves with the binary's path.
 */
export function buildGoPeer(version: GoRaftVersion = '1.1.2'): Promise<string> {
  return buildGoProgram(PEER_DIR, version);
}

// ---------------------------------------------------------------------------
// Child processes: every one is tracked and killed when this process exits.

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killAllGoProcesses);
  }
}

/** Kills every child this harness started that is still running (SIGKILL). */
export function killAllGoProcesses(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

export interface GoServer {
  /** host:port the Go NetworkTransport listens on. */
  readonly addr: string;
  readonly pid: number | undefined;
  /** What the server wrote to stderr so far (transport logs with `verbose`). */
  stderr(): string;
  /** The `SAW` reports so far (with `report`), oldest first. */
  seen(): GoSaw[];
  /** Resolves once at least `count` reports arrived; rejects after `timeoutMs` (10 s) or if the server exits. */
  waitSeen(count: number, timeoutMs?: number): Promise<GoSaw[]>;
  /** Ends stdin so the server closes its transport and exits; SIGKILL after `timeoutMs` (5 s). */
  close(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface GoServerOptions {
  /** Install a heartbeat fast-path handler (answers with noRetryBackoff = true). */
  heartbeat?: boolean;
  /** Bind address; default 127.0.0.1:0. */
  addr?: string;
  /** Transport logs on stderr. */
  verbose?: boolean;
  /** How long to wait for the LISTEN line; default 15 s. */
  startTimeoutMs?: number;
  /** hashicorp/raft version the peer is built against; default 1.1.2. */
  version?: GoRaftVersion;
  /** Print a `SAW {json}` line per RPC: what Go decoded (header ID/Addr, AppendedAt, heartbeat path). */
  report?: boolean;
  /** 1.7.3: NetworkTransportConfig.MsgpackUseNewTimeFormat. */
  newTimeFormat?: boolean;
  /** Extra raw arguments for `raft-peer serve`. */
  extraArgs?: string[];
}

/** One RPC as the Go server decoded it (`raft-peer serve -report`). */
export interface GoSaw {
  /** 'AppendEntries' | 'RequestVote' | 'RequestPreVote' | 'InstallSnapshot' | 'TimeoutNow'. */
  type: string;
  /** Came through the heartbeat fast-path handler. */
  heartbeat: boolean;
  protocolVersion: number;
  /** RPCHeader.ID / Addr as Go saw them: null for a nil slice (and always on 1.1.2). */
  id: string | null;
  addr: string | null;
  /** AppendEntries.Leader (null when nil). */
  leader: string | null;
  /** Per entry (AppendEntries): AppendedAt as Go decoded it. */
  appendedAt?: { zero: boolean; unixNano: string; rfc3339: string }[];
}

/** Starts `raft-peer serve` and resolves once it printed its LISTEN address. */
export async function startGoServer(opts: GoServerOptions = {}): Promise<GoServer> {
  const bin = await buildGoPeer(opts.version);
  const args = ['serve', '-addr', opts.addr ?? '127.0.0.1:0'];
  if (opts.heartbeat) args.push('-heartbeat');
  if (opts.report) args.push('-report');
  if (opts.newTimeFormat) args.push('-new-time-format');
  if (opts.extraArgs) args.push(...opts.extraArgs);
  if (opts.verbose) args.push('-v');
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);
  child.stdin.on('error', () => {}); // EPIPE if it already died; 'exit' reports that
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const saw: GoSaw[] = [];
  const waiters = new Set<{ count: number; done: () => void }>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const addr = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Go server printed no LISTEN line within ${opts.startTimeoutMs ?? 15_000} ms; stderr:\n${stderr}`));
    }, opts.startTimeoutMs ?? 15_000);
    const onData = (d: string): void => {
      buf += d;
      const m = /^LISTEN (\S+)$/m.exec(buf);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        let rest = buf.slice(m.index + m[0].length);
        const onReport = (d: string): void => {
          rest += d;
          let nl = rest.indexOf('\n');
          while (nl >= 0) {
            const line = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            if (line.startsWith('SAW ')) saw.push(JSON.parse(line.slice(4)) as GoSaw);
            nl = rest.indexOf('\n');
          }
          for (const w of [...waiters]) if (saw.length >= w.count) w.done();
        };
        child.stdout.on('data', onReport);
        onReport('');
        resolve(m[1]);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Go server exited (code ${code}, signal ${signal}) before listening; stderr:\n${stderr}`));
    });
  });

  let closing: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  return {
    addr,
    pid: child.pid,
    stderr: () => stderr,
    seen: () => [...saw],
    waitSeen(count, timeoutMs = 10_000) {
      return new Promise<GoSaw[]>((resolve, reject) => {
        const w = {
          count,
          done: () => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve([...saw]);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`Go server reported ${saw.length} RPCs, expected ${count}; stderr:\n${stderr}`));
        }, timeoutMs);
        waiters.add(w);
        if (saw.length >= count) w.done();
        void exited.then(() => {
          if (waiters.delete(w)) {
            clearTimeout(timer);
            reject(new Error(`Go server exited after ${saw.length} of ${count} reports; stderr:\n${stderr}`));
          }
        });
      });
    },
    close(timeoutMs = 5_000) {
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
        }
        return exited;
      })();
      return closing;
    },
  };
}

/**
 * Runs `raft-peer client -target <target> -scenario <scenario> ...extraArgs`.
 * Exit code 0 means every check passed (PASS lines on stdout); otherwise stderr
 * holds a "FAIL <scenario>: ..." line. Killed after `timeoutMs` (120 s).
 */
export async function runGoClient(
  target: string,
  scenario: string,
  extraArgs: string[] = [],
  opts: { timeoutMs?: number; version?: GoRaftVersion } = {},
): Promise<RunResult> {
  const bin = await buildGoPeer(opts.version);
  return runProcess(bin, ['client', '-target', target, '-scenario', scenario, ...extraArgs], {
    timeoutMs: opts.timeoutMs ?? 120_000,
    onSpawn: track,
  });
}

export type BenchScenario = 'heartbeat' | '128b' | '64x1k' | '256x4k';
export type BenchMode = 'sync' | 'pipeline';

/** One line of `raft-peer bench` output. `mbps` is payload MB (10^6 bytes of entry data) per second. */
export interface GoBenchResult {
  scenario: BenchScenario;
  mode: BenchMode;
  n: number;
  seconds: number;
  rps: number;
  mbps: number;
  p50us: number;
  p99us: number;
  bytesPerReq: number;
  pipelineDepth?: number;
  client: string;
}

/** Runs the Go bench client against `target` (any server following the responder rules). */
export async function runGoBench(
  target: string,
  opts: {
    scenario: BenchScenario;
    mode: BenchMode;
    n: number;
    warmup?: number;
    timeoutMs?: number;
    /** hashicorp/raft release of the Go client (default 1.1.2). */
    version?: GoRaftVersion;
    /** Pipeline window, MaxRPCsInFlight (1.5+; default Go's 2; 1.1.2 is fixed at 128). */
    window?: number;
  },
): Promise<GoBenchResult> {
  const bin = await buildGoPeer(opts.version);
  const args = ['bench', '-target', target, '-scenario', opts.scenario, '-mode', opts.mode];
  if (opts.window !== undefined) args.push('-window', String(opts.window));
  args.push('-n', String(opts.n), '-warmup', String(opts.warmup ?? Math.min(1000, opts.n)));
  const res = await runProcess(bin, args, { timeoutMs: opts.timeoutMs ?? 300_000, onSpawn: track });
  if (res.code !== 0) {
    throw new Error(`Go bench failed (exit ${res.code}${res.timedOut ? ', timed out' : ''}): ${res.stderr.trim()}`);
  }
  return JSON.parse(res.stdout.trim()) as GoBenchResult;
}

/** `raft-peer vectors`: Go's values of the shared helpers, to cross-check the TS copies. */
export async function goVectors(): Promise<{
  entriesCrc: number;
  emptyCrc: number;
  prng64seed2024: string;
  prng16seed0: string;
  snapshotCrc3MiB: number;
}> {
  const bin = await buildGoPeer();
  const res = await runProcess(bin, ['vectors'], { timeoutMs: 30_000, onSpawn: track });
  if (res.code !== 0) throw new Error(`raft-peer vectors failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim());
}

// ---------------------------------------------------------------------------
// Shared helpers: CRC-32, payloads, requests

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE), continuing from `prev`; zlib.crc32 where Node has it (20.15+). */
export function crc32(data: Uint8Array, prev = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native) return native(data, prev);
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32));
  v.setUint32(4, n >>> 0);
  return b;
}

/** The responder rules' crc: per entry, index(8 BE) | term(8 BE) | type(1) | data | extensions. */
export function entriesCrc(entries: readonly Log[] | null | undefined): number {
  let c = 0;
  for (const e of entries ?? []) {
    c = crc32(u64be(e.index), c);
    c = crc32(u64be(e.term), c);
    c = crc32(Uint8Array.of(e.type), c);
    if (e.data) c = crc32(e.data, c);
    if (e.extensions) c = crc32(e.extensions, c);
  }
  return c;
}

/** xorshift32 from `seed` (0 means 0x9e3779b9), low byte per step: the Go peer's generator. */
export function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0 || 0x9e3779b9;
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    b[i] = s & 0xff;
  }
  return b;
}

/** The bytes 0x00..0xff once each. */
export function all256(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

export function logEntry(index: number, term: number, type: LogType, data: Bytes, extensions: Bytes = null): Log {
  return { index, term, type, data, extensions };
}

export const LEADER_ADDR = new TextEncoder().encode('ts-leader:8300');

/**
 * A non-heartbeat AppendEntries following the crc convention
 * (`leaderCommitIndex = entriesCrc(entries)`), so a rule-following server
 * answers `success: true`, `lastLog: prevLogEntry + entries.length`.
 */
export function appendRequest(opts: {
  term: number;
  prevLogEntry: number;
  entries: Log[] | null;
  prevLogTerm?: number;
  protocolVersion?: number;
  leader?: Bytes;
}): AppendEntriesRequest {
  return {
    rpcHeader: { protocolVersion: opts.protocolVersion ?? 3 },
    term: opts.term,
    leader: opts.leader === undefined ? LEADER_ADDR : opts.leader,
    prevLogEntry: opts.prevLogEntry,
    prevLogTerm: opts.prevLogTerm ?? opts.term,
    entries: opts.entries,
    leaderCommitIndex: entriesCrc(opts.entries),
  };
}

/** A pure heartbeat: term and leader, nothing else. */
export function heartbeatRequest(term: number, protocolVersion = 3, leader: Bytes = LEADER_ADDR): AppendEntriesRequest {
  return {
    rpcHeader: { protocolVersion },
    term,
    leader,
    prevLogEntry: 0,
    prevLogTerm: 0,
    entries: null,
    leaderCommitIndex: 0,
  };
}

/** What a rule-following server answers to `req` (not for term 666). */
export function expectedAppendResponse(req: AppendEntriesRequest, viaHeartbeatHandler = false): AppendEntriesResponse {
  return {
    rpcHeader: { protocolVersion: req.rpcHeader.protocolVersion },
    term: req.term,
    lastLog: req.prevLogEntry + (req.entries?.length ?? 0),
    success: entriesCrc(req.entries) === req.leaderCommitIndex,
    noRetryBackoff: viaHeartbeatHandler,
  };
}

// ---------------------------------------------------------------------------
// The responder rules in TypeScript

/** Answers `rpc` by the deterministic responder rules (see the top of this file). */
export async function respondDeterministically(rpc: RPC, viaHeartbeatHandler: boolean): Promise<void> {
  switch (rpc.type) {
    case RpcType.AppendEntries: {
      const req = rpc.command;
      if (req.term === 666) {
        rpc.respond(
          { rpcHeader: { protocolVersion: 0 }, term: 0, lastLog: 0, success: false, noRetryBackoff: false },
          'go says no',
        );
        return;
      }
      rpc.respond(expectedAppendResponse(req, viaHeartbeatHandler));
      return;
    }
    case RpcType.RequestVote: {
      const req = rpc.command;
      rpc.respond({
        rpcHeader: { protocolVersion: req.rpcHeader.protocolVersion },
        term: req.term + 1,
        granted: req.leadershipTransfer,
        peers: req.candidate,
      });
      return;
    }
    case RpcType.InstallSnapshot: {
      const req = rpc.command;
      let crc = 0;
      let read = 0;
      for await (const chunk of rpc.reader as AsyncIterable<Uint8Array>) {
        crc = crc32(chunk, crc);
        read += chunk.length;
      }
      rpc.respond({ rpcHeader: { protocolVersion: req.rpcHeader.protocolVersion }, term: crc, success: read === req.size });
      return;
    }
    case RpcType.TimeoutNow:
      rpc.respond({ rpcHeader: { protocolVersion: rpc.command.rpcHeader.protocolVersion } });
      return;
    case RpcType.RequestPreVote: {
      const req = rpc.command;
      rpc.respond({ rpcHeader: { protocolVersion: req.rpcHeader.protocolVersion }, term: req.term + 1, granted: true });
      return;
    }
  }
}

/**
 * Serves `transport`'s consumer with the responder rules until it ends. Each
 * RPC is answered on its own (a snapshot being read does not hold up the
 * rest). Failures are collected in `errors` rather than thrown; `done`
 * resolves when the consumer ended and every answer was given.
 */
export function serveDeterministically(transport: { consumer(): AsyncIterable<RPC> }): {
  done: Promise<void>;
  errors: unknown[];
  handled: () => number;
} {
  const errors: unknown[] = [];
  let handled = 0;
  const pending = new Set<Promise<void>>();
  const done = (async () => {
    try {
      for await (const rpc of transport.consumer()) {
        handled++;
        const p = respondDeterministically(rpc, false).catch((err: unknown) => void errors.push(err));
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
    } catch (err) {
      errors.push(err);
    }
    await Promise.all(pending);
  })();
  return { done, errors, handled: () => handled };
}

/** A heartbeat handler answering by the rules with the fast-path marker (noRetryBackoff = true). */
export function deterministicHeartbeatHandler(errors: unknown[] = []): (rpc: RPC) => void {
  return (rpc) => {
    respondDeterministically(rpc, true).catch((err: unknown) => void errors.push(err));
  };
}

/** Snapshot data as an async source in uneven chunks (exercises streaming). */
export async function* chunked(data: Uint8Array, chunk = 7919): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += chunk) {
    yield data.subarray(off, Math.min(off + chunk, data.length));
  }
}
