/**
 * The transport conformance suite over a StreamLayer that passes written
 * Buffers by reference (issue 9): TCP and TLS copy on write and hide any
 * aliasing between the writer's memory and what the reader keeps.
 */
import { NetworkTransport } from '../../src/net/network-transport.ts';
import { runTransportConformance } from '../conformance/transport-suite.ts';
import { ByReferenceNetwork } from '../helpers/by-reference-stream-layer.ts';

const network = new ByReferenceNetwork();

runTransportConformance({
  name: 'NetworkTransport over a by-reference in-process StreamLayer',
  sameObjects: false,
  unreachableAddr: () => network.unreachable(),
  async makeCluster(n, opts = {}) {
    const ts = Array.from(
      { length: n },
      (_, i) =>
        new NetworkTransport(network.listen(), {
          timeout: opts.timeout ?? 5_000,
          maxRPCsInFlight: opts.maxInFlight,
          localID: opts.localIDs?.[i],
        }),
    );
    return {
      transports: ts,
      close: async () => {
        await Promise.all(ts.map((t) => t.close()));
      },
    };
  },
});
