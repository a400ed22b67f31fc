/**
 * `raft-transport probe --watch`, run as a real process with stdout piped
 * (not a TTY), so it prints one plain line per state change.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { table, watchPeers } from '../../src/cli/watch.ts';
import { newTCPTransport, type NetworkTransport } from '../../src/index.ts';
import { closedPort } from '../helpers/expect-errors.ts';
import { serve } from '../helpers/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function peer(bind = '127.0.0.1:0'): Promise<NetworkTransport> {
  const t = await newTCPTransport(bind);
  void serve(t);
  cleanup.push(() => t.close());
  return t;
}

/** The CLI as a child process; `until(re)` waits for stdout to match. */
function watch(...args: string[]) {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'probe', '--watch', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  cleanup.push(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  return {
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    async until(re: RegExp): Promise<void> {
      while (!re.test(stdout)) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    interrupt: () => child.kill('SIGINT'),
  };
}

describe('raft-transport probe --watch', () => {
  it('prints one line per state change when stdout is not a terminal, and exits on Ctrl-C', async () => {
    const up = await peer();
    const down = await closedPort();
    const w = watch(up.localAddr(), down, '--interval', '5', '--timeout', '2000');
    const esc = (s: string): string => s.replace(/[.]/g, '\\.');
    await w.until(new RegExp(`${esc(up.localAddr())} active \\(was unknown\\) rtt p50=[\\d.]+ ms`));
    await w.until(new RegExp(`${esc(down)} inactive \\(was unknown\\) ERR_PEER_UNREACHABLE: `));

    const addr = up.localAddr();
    await up.close();
    await w.until(new RegExp(`${esc(addr)} inactive \\(was active\\) ERR_`));
    await peer(addr);
    await w.until(new RegExp(`${esc(addr)} active \\(was inactive\\)`));
    w.interrupt();
    // The unreachable peer is still down: exit 1.
    expect(await w.exited).toBe(1);
    const lines = w.stdout().trimEnd().split('\n');
    expect(lines[0]).toBe(`WATCH ${addr} ${down}: term-0 AppendEntries every 5 ms; one line per state change`);
    // Many probes failed meanwhile, yet one line per change: the header and four changes, no escapes.
    expect(lines).toHaveLength(5);
    expect(w.stdout()).not.toContain('\x1b');
    expect(w.stderr()).toBe('');
  }, 120_000);

  it('exits 2 on bad usage', async () => {
    const none = watch();
    expect(await none.exited).toBe(2);
    expect(none.stderr()).toContain('probe --watch takes one or more <host:port>');
    const json = watch('127.0.0.1:1', '--json');
    expect(await json.exited).toBe(2);
    expect(json.stderr()).toContain('--watch takes neither --json nor --count');
  }, 120_000);

  it('draws a table for terminals: one row per peer', () => {
    const rows = table([
      {
        peer: '10.0.0.2:8300',
        state: 'active',
        since: Date.UTC(2026, 0, 1, 12, 0, 0, 5),
        source: 'explicit',
        probesSent: 10,
        probesSucceeded: 9,
        failures: 1,
        consecutiveFailures: 0,
        rtt: { count: 9, p50: 0.25, p90: 0.4, p99: 0.5, max: 0.5 },
        lastError: { code: 'ERR_RPC_TIMEOUT', message: 'probe timed out', at: 0 },
      },
    ]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^PEER\s+STATE\s+SINCE\s+RTT p50\/p99\/max ms\s+PROBES\s+FAILED\s+LAST ERROR$/);
    expect(rows[1]).toMatch(
      /^10\.0\.0\.2:8300\s+active\s+12:00:00\.005\s+0\.250\/0\.500\/0\.500\s+10\s+1\s+ERR_RPC_TIMEOUT: probe timed out$/,
    );
  });

  it('redraws the table in place on a terminal', async () => {
    const up = await peer();
    let text = '';
    const waiters: Array<() => void> = [];
    const ac = new AbortController();
    const done = watchPeers([up.localAddr()], {
      interval: 5,
      timeout: 2000,
      tty: true,
      signal: ac.signal,
      out: (t) => {
        text += t;
        for (const w of waiters.splice(0)) w();
      },
    });
    // Wait for a redraw that shows the peer active.
    const REDRAW = '\u001b[2A\u001b[J';
    const lastDraw = (): string => text.slice(text.lastIndexOf(REDRAW) + REDRAW.length);
    while (!(text.includes(REDRAW) && /^127\.0\.0\.1:\d+\s+active\s/m.test(lastDraw()))) {
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    ac.abort();
    const final = await done;
    expect(final).toEqual([expect.objectContaining({ peer: up.localAddr(), state: 'active' })]);
    // The first draw has no escape; each later one moves up over the 2 lines drawn before.
    expect(text.startsWith('PEER')).toBe(true);
    expect(text.split(REDRAW).length).toBeGreaterThan(1);
  });
});
