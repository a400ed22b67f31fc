import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./echo-server-process.ts', import.meta.url));

/** A peer transport in a separate process that a test can kill -9. */
export interface ChildPeer {
  addr: string;
  port: number;
  proc: ChildProcess;
  /** SIGKILL, and wait for the process to be gone. */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Starts the peer; `mode` 'hold' never answers RPCs. */
export async function startChildPeer(port = 0, mode: 'echo' | 'hold' = 'echo'): Promise<ChildPeer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, String(port), mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => live.delete(proc));
  const addr = await new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /LISTEN (\S+)/.exec(buf);
      if (m?.[1]) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`peer process exited (${code}) before listening`)));
  });
  return {
    addr,
    port: Number(addr.split(':').pop()),
    proc,
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
