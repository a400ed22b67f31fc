/**
 * Entry point of a benchmark server process: `node --import tsx
 * bench/server-process.ts transport|raw|proxy [target delayMs]`, spawned by bench/children.ts with an
 * IPC channel. Server and client live in separate processes, as in
 * production, so neither's work steals the other's event loop.
 *
 * Announces `{type: 'ready', addr}`, then answers the parent's commands
 * (RSS, event-loop, GC and CPU sampling, CPU profiles, counters, close). Exits when the parent disconnects, so a
 * crashed orchestrator never leaves it behind.
 */
import { CpuProfiler, summarizeProfile, writeProfile } from './cpu-profile.ts';
import type { Command, Message, ServerKind } from './ipc.ts';
import { startLatencyProxy } from './latency-proxy.ts';
import { startRawServer } from './raw-server.ts';
import { ProcessSampler } from './process-sampler.ts';
import { startTransportServer } from './transport-server.ts';

function send(msg: Message): void {
  process.send?.(msg);
}

const kind = process.argv[2] as ServerKind;
if (!process.send) {
  console.error('bench/server-process.ts is started by bench/main.ts (it needs an IPC channel)');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));

try {
  const server =
    kind === 'raw'
      ? await startRawServer()
      : kind === 'transport'
        ? await startTransportServer()
        : kind === 'proxy'
          ? await startLatencyProxy({ target: process.argv[3] ?? '', delayMs: Number(process.argv[4] ?? 0) })
          : undefined;
  if (server === undefined) throw new Error(`unknown server kind ${JSON.stringify(kind)}`);
  const sampler = new ProcessSampler();
  const profiler = new CpuProfiler();
  const fail = (id: number) => (err: unknown) => send({ type: 'reply', id, error: String(err) });
  // One profile at a time; profile-stop writes the whole profile where asked and answers with its summary.

  process.on('message', (cmd: Command) => {
    const reply = (value?: unknown): void => send({ type: 'reply', id: cmd.id, value });
    switch (cmd.op) {
      case 'sample-start':
        sampler.start();
        return reply();
      case 'sample-stop':
        return reply(sampler.stop());
      case 'stats':
        return reply(server.stats());
      case 'profile-start':
        void profiler.start().then(() => reply(), fail(cmd.id));
        return;
      case 'profile-stop':
        void profiler
          .stop()
          .then((profile) => {
            if (cmd.file !== undefined) writeProfile(cmd.file, profile);
            reply(summarizeProfile(profile, cmd.top));
          })
          .catch(fail(cmd.id));
        return;
      case 'set-delay':
        if (!('setDelay' in server)) return send({ type: 'reply', id: cmd.id, error: `${kind} has no delay` });
        server.setDelay(cmd.value ?? 0);
        return reply();
      case 'close':
        void server.close().then(() => {
          reply();
          process.disconnect();
        }, fail(cmd.id));
        return;
    }
  });
  send({ type: 'ready', addr: server.addr });
} catch (err) {
  send({ type: 'fatal', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
  process.disconnect();
}
