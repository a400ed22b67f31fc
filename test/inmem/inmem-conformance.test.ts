import { InmemTransport } from '../../src/inmem/inmem-transport.ts';
import { runTransportConformance } from '../conformance/transport-suite.ts';

runTransportConformance({
  name: 'InmemTransport',
  sameObjects: true,
  unreachableAddr: () => 'nobody-home',
  async makeCluster(n, opts = {}) {
    const ts = Array.from(
      { length: n },
      (_, i) =>
        new InmemTransport(undefined, {
          timeout: opts.timeout ?? 5_000,
          maxRPCsInFlight: opts.maxInFlight,
          localID: opts.localIDs?.[i],
        }),
    );
    for (const a of ts) for (const b of ts) if (a !== b) a.connect(b.localAddr(), b);
    return {
      transports: ts,
      close: async () => {
        await Promise.all(ts.map((t) => t.close()));
      },
    };
  },
});
