/**
 * The benchmark's AppendEntries drivers (bench/append-bench.ts): their
 * figures are only worth something if every request is answered and checked
 * and the clock covers exactly the timed requests, warm-up or none
 * (bench:profile times a run with none). The clock here is a fake that the
 * follower advances by 1 ms per request it answers, so the timed span is
 * known exactly, whatever the machine's speed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pipelinedRun, syncRun } from '../../bench/append-bench.ts';
import { answerAppend } from '../../bench/responder.ts';
import { LatencyRecorder } from '../../bench/stats.ts';
import { generate, RingCursor, workloads } from '../../bench/workloads.ts';
import { RpcType } from '../../src/commands.ts';
import { InmemTransport } from '../../src/inmem/inmem-transport.ts';

const spec = workloads().find((w) => w.id === '128b')!;
const WINDOW = 8;

describe('bench AppendEntries drivers', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  for (const [name, run] of [
    ['pipelinedRun', pipelinedRun],
    ['syncRun', syncRun],
  ] as const) {
    it(`${name} times only its own requests, with or without a warm-up`, async () => {
      let clock = 1_000; // not 0, so a clock that never started shows
      vi.spyOn(performance, 'now').mockImplementation(() => clock);
      const client = new InmemTransport('client', { maxRPCsInFlight: WINDOW });
      const server = new InmemTransport('bench-server');
      client.connect('bench-server', server);
      let answered = 0;
      const served = (async () => {
        for await (const rpc of server.consumer()) {
          if (rpc.type !== RpcType.AppendEntries) throw new Error(`unexpected ${rpc.type}`);
          clock += 1;
          answered++;
          rpc.respond(answerAppend(rpc.command, false));
        }
      })();
      try {
        const ring = new RingCursor(generate(spec).ring);
        for (const warmup of [0, 50]) {
          const lat = new LatencyRecorder(1000);
          const t = await run(client, 'bench-server', ring, warmup, 200, lat);
          expect(t.n).toBe(200);
          expect(lat.size).toBe(200);
          // 200 answers took 200 ms of the fake clock; a pipeline's warm-up
          // may have had up to a window of the timed requests answered before
          // its last warm-up future was consumed.
          const ms = t.seconds * 1000;
          expect(ms).toBeLessThanOrEqual(200);
          expect(ms).toBeGreaterThanOrEqual(name === 'syncRun' ? 200 : 200 - WINDOW);
        }
        expect(answered).toBe(450);
      } finally {
        await client.close();
        await server.close();
        await served;
      }
    });
  }
});
