import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { runTransportConformance } from '../conformance/transport-suite.ts';
import { closedPort } from '../helpers/expect-errors.ts';

runTransportConformance({
  name: 'NetworkTransport over TCP',
  sameObjects: false,
  unreachableAddr: closedPort,
  async makeCluster(n, opts = {}) {
    const ts = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        newTCPTransport('127.0.0.1:0', {
          timeout: opts.timeout ?? 5_000,
          maxRPCsInFlight: opts.maxInFlight,
          localID: opts.localIDs?.[i],
        }),
      ),
    );
    return {
      transports: ts,
      close: async () => {
        await Promise.all(ts.map((t) => t.close()));
      },
    };
  },
});
