/** A real hashicorp/raft node (test/cli/raft-node), built once per source version, for tests that need a live leader. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { goEnv } from '../interop/go-peer.ts';

/** A real hashicorp/raft node (test/cli/raft-node): a one-server cluster that elected itself. */
export interface RaftNode {
  addr: string;
  /** The term it was elected in. */
  term: number;
  state(): Promise<{ state: string; term: number; lastLog: number }>;
  close(): Promise<void>;
}

export async function startRaftNode(): Promise<RaftNode> {
  const src = fileURLToPath(new URL('../cli/raft-node/', import.meta.url));
  const hash = createHash('sha256')
    .update(fs.readFileSync(path.join(src, 'main.go')))
    .digest('hex')
    .slice(0, 16);
  const bin = path.join(os.tmpdir(), `raft-transport-raft-node-${hash}`);
  if (!fs.existsSync(bin)) {
    const tmp = `${bin}.tmp-${process.pid}`;
    const build = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn('go', ['build', '-o', tmp, '.'], { cwd: src, env: goEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('close', (code) => resolve({ code, stderr }));
    });
    if (build.code !== 0) throw new Error(`go build of ${src} failed:\n${build.stderr}`);
    fs.renameSync(tmp, bin);
  }
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // Stdout lines, handed to whoever waits for the next one.
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = (): Promise<string> =>
    lines.length > 0
      ? Promise.resolve(lines.shift() as string)
      : new Promise((resolve, reject) => {
          waiters.push(resolve);
          void exited.then((code) => reject(new Error(`raft-node exited (${code}); stderr:\n${stderr}`)));
        });
  const leader = /^LEADER (\S+) (\d+)$/.exec(await nextLine());
  if (!leader) throw new Error(`unexpected raft-node output; stderr:\n${stderr}`);
  return {
    addr: leader[1] as string,
    term: Number(leader[2]),
    async state() {
      child.stdin.write('state\n');
      const m = /^STATE (\S+) (\d+) (\d+)$/.exec(await nextLine());
      if (!m) throw new Error('unexpected raft-node state line');
      return { state: m[1] as string, term: Number(m[2]), lastLog: Number(m[3]) };
    },
    async close() {
      child.stdin.end();
      expect(await exited).toBe(0);
    },
  };
}
