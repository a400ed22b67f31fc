/**
 * examples/shared-port.ts without Go (test/interop/shared-port-go.test.ts runs
 * it against a Go peer): run as a script, one node's Raft call and an HTTP
 * request reach the other node on one port, and the process exits by itself,
 * so closing left no socket or timer behind.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

import { runProcess } from '../helpers/run-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
});

describe('examples/shared-port.ts', () => {
  it('serves Raft and HTTP on one port when run, and exits on its own once closed', async () => {
    const res = await runProcess(process.execPath, ['--import', 'tsx', 'examples/shared-port.ts'], {
      cwd: ROOT,
      timeoutMs: 25_000,
      onSpawn: (c) => {
        child = c;
      },
    });
    expect(res.stderr).toBe('');
    expect({ code: res.code, timedOut: res.timedOut }).toEqual({ code: 0, timedOut: false });
    const addr = /^raft on (127\.0\.0\.1:\d+): TimeoutNow answered$/m.exec(res.stdout)?.[1];
    expect(addr).toBeDefined();
    expect(res.stdout).toContain(`http on ${addr}: status ok (/status)`);
  });
});
