/**
 * The `raft-transport` command, run as a real process (src/cli.ts under tsx)
 * so exit codes, stdout and stderr are what a user sees. The installed,
 * compiled bin is covered by test/package/pack.test.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppendEntriesRequest, newTCPTransport, type NetworkTransport, RpcType } from '../../src/index.ts';
import type { ProbeResult } from '../../src/cli/probe.ts';
import { goAvailable, startGoServer } from '../interop/go-peer.ts';
import { closedPort } from '../helpers/expect-errors.ts';
import { startRaftNode } from '../helpers/raft-node.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('raft-transport --help', () => {
  it('lists the commands and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: raft-transport <command>');
    expect(r.stdout).toContain('probe <host:port>');
    expect(r.stdout).toContain('bench [args...]');
  });

  it('exits 2 with the help on stderr for no or an unknown command', async () => {
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: raft-transport');
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('prints the package version', async () => {
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('raft-transport bench (from a checkout)', () => {
  it('runs bench/main.ts with the arguments and passes its exit code on', async () => {
    const help = await cli('bench', '--help');
    expect(help.code).toBe(0);
    expect(help.stderr).toContain('bench/main.ts');
    expect(help.stderr).toContain('--quick');
    const bad = await cli('bench', '--no-such-flag');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--no-such-flag');
  });
});

describe('raft-transport probe', () => {
  let server: NetworkTransport;
  const received: AppendEntriesRequest[] = [];
  let serving: Promise<void>;

  beforeAll(async () => {
    server = await newTCPTransport('127.0.0.1:0');
    // A Raft-like follower at term 7 with 42 log entries: rejects stale terms.
    serving = (async () => {
      for await (const rpc of server.consumer()) {
        if (rpc.type !== RpcType.AppendEntries) {
          rpc.respond(null, 'unexpected');
          continue;
        }
        received.push(rpc.command);
        rpc.respond({
          // Byte fields as a 1.7 node fills them: the probe's JSON must print them as text.
          rpcHeader: { protocolVersion: 3, id: new TextEncoder().encode('n1'), addr: new Uint8Array([0xff, 0x00]) },
          term: 7,
          lastLog: 42,
          success: rpc.command.term >= 7,
          noRetryBackoff: false,
        });
      }
    })();
  });

  afterAll(async () => {
    await server.close();
    await serving;
  });

  it('reports round trips and the peer term of a live transport, sending only term-0 requests', async () => {
    received.length = 0;
    const r = await cli('probe', server.localAddr(), '--count', '3', '--interval', '0');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`PROBE ${server.localAddr()}`);
    expect(r.stdout.match(/^seq=\d time=[\d.]+ ms term=7 lastLog=42 success=false$/gm)).toHaveLength(3);
    expect(r.stdout).toContain('3 sent, 3 ok, 0 failed');
    expect(r.stdout).toMatch(/rtt min\/p50\/p90\/p99\/max = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
    expect(r.stdout).toContain('peer term 7, last log index 42');
    // What reached the peer can't move a Raft node: term 0, no leader, no entries, no commit.
    expect(received).toHaveLength(3);
    for (const req of received) {
      expect(req).toMatchObject({ term: 0, prevLogEntry: 0, prevLogTerm: 0, leaderCommitIndex: 0 });
      expect(req.leader).toBeNull();
      expect(req.entries ?? []).toHaveLength(0);
    }
  });

  it('prints one JSON object with --json', async () => {
    const r = await cli('probe', server.localAddr(), '--count', '2', '--interval', '0', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as ProbeResult;
    expect(result).toMatchObject({ target: server.localAddr(), sent: 2, ok: 2, failed: 0, peerTerm: 7, peerLastLog: 42 });
    expect(result.rttMs?.min).toBeGreaterThan(0);
    expect(result.rttMs?.max).toBeGreaterThanOrEqual(result.rttMs?.min ?? Infinity);
    // Bytes as text (or base64 when not UTF-8), never {"0":110,...}; milliseconds to the microsecond.
    expect(result.samples[0]?.response?.rpcHeader).toMatchObject({ id: 'n1', addr: 'base64:/wA=' });
    for (const v of Object.values(result.rttMs ?? {})) expect(String(v)).toMatch(/^\d+(\.\d{1,3})?$/);
  });

  it('stops on Ctrl-C and still prints the summary, as ping does', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'probe', server.localAddr(), '--count', '1000', '--interval', '60000'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        // Interrupt while it waits out the interval after the first answer.
        if (stdout.includes('seq=1 ')) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toContain('1 sent, 1 ok, 0 failed');
    expect(stdout).toContain('peer term 7');
  });

  it('exits 1 with a clear message when the peer is unreachable', async () => {
    const addr = await closedPort();
    const r = await cli('probe', addr, '--count', '2', '--interval', '0', '--timeout', '5000');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('2 sent, 0 ok, 2 failed');
    expect(r.stdout).toContain('ERR_PEER_UNREACHABLE');
    expect(r.stderr).toContain(`${addr} is unreachable (ERR_PEER_UNREACHABLE: failed to connect to ${addr}`);
  });

  it('exits 1 in --json mode too, with the error per probe', async () => {
    const addr = await closedPort();
    const r = await cli('probe', addr, '--count', '1', '--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout) as ProbeResult;
    expect(result).toMatchObject({ sent: 1, ok: 0, failed: 1 });
    expect(result.samples[0]?.error?.code).toBe('ERR_PEER_UNREACHABLE');
    expect(result.rttMs).toBeUndefined();
  });

  it('exits 2 on bad usage', async () => {
    expect((await cli('probe')).code).toBe(2);
    const bad = await cli('probe', 'not-an-address');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not a host:port address');
    const count = await cli('probe', '127.0.0.1:1', '--count', 'zero');
    expect(count.code).toBe(2);
    expect(count.stderr).toContain('--count must be an integer >= 1');
  });
});

describe('raft-transport probe against hashicorp/raft (Go)', () => {
  const go = goAvailable();
  if (!go.ok) console.warn(`skipping the Go probe tests: ${go.reason}`);

  it.skipIf(!go.ok)(
    'leaves a real Raft leader in place, while a higher term would depose it',
    async () => {
      const node = await startRaftNode();
      try {
        const before = await node.state();
        expect(before).toEqual({ state: 'Leader', term: node.term, lastLog: expect.any(Number) });

        const r = await cli('probe', node.addr, '--count', '5', '--interval', '0', '--json');
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const result = JSON.parse(r.stdout) as ProbeResult;
        // Raft answered with its own term and refused the stale request.
        expect(result).toMatchObject({ sent: 5, ok: 5, failed: 0, peerTerm: node.term, peerLastLog: before.lastLog });
        expect(result.samples.every((s) => s.response?.success === false)).toBe(true);
        expect(await node.state()).toEqual(before);

        // Control: the same request with a higher term is exactly what probe must never send.
        const t = await newTCPTransport('127.0.0.1:0');
        try {
          const resp = await t.appendEntries('node-1', node.addr, {
            rpcHeader: { protocolVersion: 3 },
            term: node.term + 1,
            leader: new TextEncoder().encode(t.localAddr()),
            prevLogEntry: 0,
            prevLogTerm: 0,
            entries: null,
            leaderCommitIndex: 0,
          });
          expect(resp.term).toBe(node.term + 1);
        } finally {
          await t.close();
        }
        expect((await node.state()).term).toBeGreaterThan(node.term);
      } finally {
        await node.close();
      }
    },
    120_000,
  );

  it.skipIf(!go.ok)('gets answers from a Go NetworkTransport', async () => {
    const peer = await startGoServer();
    try {
      const r = await cli('probe', peer.addr, '--count', '3', '--interval', '0', '--json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout) as ProbeResult;
      expect(result).toMatchObject({ target: peer.addr, sent: 3, ok: 3, failed: 0 });
      // The Go peer follows the interop responder rules (test/interop/go-peer.ts): it echoes the term.
      expect(result.peerTerm).toBe(0);
      expect(result.samples.every((s) => s.response?.rpcHeader.protocolVersion === 3)).toBe(true);
    } finally {
      await peer.close();
    }
  });
});
