import { describe, expect, it } from 'vitest';
import { chaos } from './chaos.ts';

// Seeds fix the fault schedule and every random choice of the Rafts and the
// clients; timing still comes from the event loop, so a failure prints its
// seed and fault list to replay it with CHAOS_SEED=<seed>.
const only = process.env.CHAOS_SEED ? [Number(process.env.CHAOS_SEED)] : undefined;

describe('example Raft under seeded chaos (InmemTransport)', () => {
  it.each(only ?? [101, 202, 303])(
    '3 nodes, seed %i: one leader per term, no lost write, converged, linearizable',
    async (seed) => {
      const report = await chaos(seed, 3, 8, 150);
      console.log(JSON.stringify(report));
      expect(report.problems).toEqual([]);
      expect(report.acked).toBeGreaterThan(200);
    },
    60_000,
  );

  it.each(only ?? [404, 505])(
    '5 nodes, seed %i: one leader per term, no lost write, converged, linearizable',
    async (seed) => {
      const report = await chaos(seed, 5, 8, 150);
      console.log(JSON.stringify(report));
      expect(report.problems).toEqual([]);
      expect(report.acked).toBeGreaterThan(200);
    },
    60_000,
  );
});

describe('example Raft under seeded chaos (NetworkTransport over TCP, FaultNetwork)', () => {
  it.each(only ?? [606, 707])(
    '3 nodes over real sockets, seed %i: no lost write, converged, linearizable',
    async (seed) => {
      const report = await chaos(seed, 3, 6, 120, 'tcp');
      console.log(JSON.stringify(report));
      expect(report.problems).toEqual([]);
      expect(report.acked).toBeGreaterThan(120);
    },
    60_000,
  );
});
