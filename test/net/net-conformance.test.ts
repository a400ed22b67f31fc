import { createServer } from 'node:net';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { runTransportConformance } from '../conformance/transport-suite.ts';

/** A port that was free a moment ago: bound, then released. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}

runTransportConformance({
  name: 'NetworkTransport over TCP',
  sameObjects: false,
  unreachableAddr: closedPort,
  async makeCluster(n, opts = {}) {
    const ts = await Promise.all(
      Array.from({ length: n }, () =>
        newTCPTransport('127.0.0.1:0', { timeout: opts.timeout ?? 5_000, maxRPCsInFlight: opts.maxInFlight }),
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
