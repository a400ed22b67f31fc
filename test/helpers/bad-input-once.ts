/** Sends one bad frame to a fresh transport, dials a closed port once, and exits, for the NODE_DEBUG logging test. */
import * as net from 'node:net';
import { newTCPTransport } from '../../src/net/tcp-transport.ts';
import { closedPort } from './expect-errors.ts';

const t = await newTCPTransport('127.0.0.1:0');
const port = Number(t.localAddr().split(':')[1]);
await new Promise<void>((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => s.write(Uint8Array.from([0x09])));
  s.on('error', () => {});
  s.on('close', () => resolve());
});
await t
  .requestVote('x', await closedPort(), {
    rpcHeader: { protocolVersion: 3 },
    term: 1,
    candidate: null,
    lastLogIndex: 0,
    lastLogTerm: 0,
    leadershipTransfer: false,
  })
  .catch(() => {});
await t.close();
