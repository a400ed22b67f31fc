/**
 * Starting server processes and making sure none outlives the benchmark:
 * every child is tracked and SIGKILLed on exit, normal or not (killAllChildren,
 * wired to exit and signals by killChildrenOnExit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ProfileSummary } from './cpu-profile.ts';
import type { Command, Message, ProcessReport, ServerKind, ServerStats } from './ipc.ts';

const SERVER_ENTRY = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const children = new Set<ChildProcess>();

/** A running server process and the commands it understands. */
export interface ServerProcess {
  readonly kind: ServerKind;
  readonly addr: string;
  readonly pid: number;
  /** Starts sampling RSS and event-loop delay in the server (see process-sampler.ts). */
  sampleStart(): Promise<void>;
  sampleStop(): Promise<ProcessReport>;
  stats(): Promise<ServerStats>;
  /** Starts a CPU profile in the server (see cpu-profile.ts). */
  profileStart(): Promise<void>;
  /** Ends it: its `top` frames, and the whole profile written to `file` if given. */
  profileStop(top: number, file?: string): Promise<ProfileSummary>;
  /** A proxy's one-way delay, for bytes it reads from now on (kind `proxy` only). */
  setDelay(ms: number): Promise<void>;
  /** Told if the process exits without close() having been called (a crash or a kill). */
  onUnexpectedExit(cb: (why: string) => void): void;
  /** Asks the server to close and exit; SIGKILL if it hasn't within `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

/** SIGKILLs every server process still running. Synchronous, so it works in an 'exit' handler. */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

/**
 * Runs `kill` (by default killAllChildren) whenever this process ends: at
 * exit, however it came (process.exit included), and on SIGINT, SIGTERM and
 * SIGHUP, which then exit with 128 + the signal's number. For a
 * benchmark's entry point, so no child outlives it.
 */
export function killChildrenOnExit(name: string, kill: () => void = killAllChildren): void {
  process.on('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${name}: ${signal}, stopping server processes\n`);
      process.exit(128 + os.constants.signals[signal]);
    });
  }
}

/** Spawns `node --import tsx bench/server-process.ts <kind> ...args` and waits for its address. */
export async function startServerProcess(
  kind: ServerKind,
  opts: { args?: string[]; startTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_ENTRY, kind, ...(opts.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    // Keep tsx/Node options of ours (e.g. --inspect) out of the child.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(`${kind} server process exited (code ${code}, signal ${signal})${stderr ? `; stderr:\n${stderr}` : ''}`);
    });
  });

  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let fatal: string | undefined;
  child.on('message', (msg: Message) => {
    if (msg.type === 'reply') {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error !== undefined) p?.reject(new Error(`${kind} server: ${msg.error}`));
      else p?.resolve(msg.value);
    } else if (msg.type === 'fatal') {
      fatal = msg.error;
    }
  });
  void exited.then((why) => {
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  });

  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${kind} server process did not start within ${startTimeoutMs} ms; stderr:\n${stderr}`));
    }, startTimeoutMs);
    child.on('message', (msg: Message) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg.addr);
      }
    });
    void exited.then((why) => {
      clearTimeout(timer);
      reject(new Error(fatal !== undefined ? `${kind} server failed to start: ${fatal}` : why));
    });
  });

  const call = <T>(op: Command['op'], fields: Omit<Command, 'id' | 'op'> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${kind} server process is gone`));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, ...fields } satisfies Command);
    });

  let closing: Promise<void> | undefined;
  const onExit: Array<(why: string) => void> = [];
  void exited.then((why) => {
    if (closing === undefined) for (const cb of onExit) cb(why);
  });
  return {
    kind,
    addr,
    pid: child.pid!,
    sampleStart: () => call<void>('sample-start'),
    sampleStop: () => call<ProcessReport>('sample-stop'),
    stats: () => call<ServerStats>('stats'),
    profileStart: () => call<void>('profile-start'),
    profileStop: (top, file) => call<ProfileSummary>('profile-stop', { top, file }),
    setDelay: (ms) => call<void>('set-delay', { value: ms }),
    onUnexpectedExit: (cb) => void onExit.push(cb),
    close(timeoutMs = 5_000) {
      closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await call('close').catch(() => child.kill('SIGKILL'));
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
