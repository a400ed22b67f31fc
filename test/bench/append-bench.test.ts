/**
 * The benchmark's AppendEntries drivers (bench/append-bench.ts) against the
 * benchmark's own server, over TCP: their figures are only worth something
 * if every request is answered and checked and the clock covers exactly the
 * timed requests, warm-up or none (bench:profile times a run with none).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pipelinedRun, syncRun } from '../../bench/append-bench.ts';
import { LatencyRecorder } from '../../bench/stats.ts';
import { startTransportServer, type TransportServer } from '../../bench/transport-server.ts';
import { generate, RingCursor, workloads } from '../../bench/workloads.ts';
import type { NetworkTransport } from '../../src/net/network-transport.ts';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';

const spec = workloads().find((w) => w.id === '128b')!;

describe('bench AppendEntries drivers', () => {
  let server: TransportServer | undefined;
  let client: NetworkTransport | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = server = undefined;
  });

  for (const [name, run] of [
    ['pipelinedRun', pipelinedRun],
    ['syncRun', syncRun],
  ] as const) {
    it(`${name} times only its own requests, with or without a warm-up`, async () => {
      server = await startTransportServer();
      client = await newTCPTransport('127.0.0.1:0', { maxRPCsInFlight: 8 });
      const ring = new RingCursor(generate(spec).ring);
      for (const warmup of [0, 50]) {
        const lat = new LatencyRecorder(1000);
        const before = performance.now();
        const t = await run(client, server.addr, ring, warmup, 200, lat);
        const wall = performance.now() - before;
        expect(t.n).toBe(200);
        expect(lat.size).toBe(200);
        expect(t.seconds).toBeGreaterThan(0);
        expect(t.seconds * 1000).toBeLessThanOrEqual(wall);
      }
      expect(server.stats().appends).toBe(450);
      expect(server.stats().errors).toEqual([]);
    });
  }
});
