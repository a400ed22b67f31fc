/**
 * An HTTP API and Raft on one port, the way Consul and Nomad run
 * hashicorp/raft on their RPC port: every connection's first byte says what
 * follows. Raft connections start with RAFT_PREFIX (Consul's RPCRaft, 1) and
 * go to a HandoffStreamLayer; anything else is HTTP. When this node dials a
 * peer, a PrefixDialer writes the same byte first, so its peers can share a
 * port too. A Go hashicorp/raft node joins such a cluster with a StreamLayer
 * that writes the byte on Dial and expects it on Accept (see
 * test/interop/raftnode/prefix_layer.go and test/interop/shared-port-go.test.ts).
 *
 *   npx tsx examples/shared-port.ts     # two nodes: one calls the other's Raft, then its HTTP API, on one port
 *
 * In your project, import from 'raft-transport' instead of '../src/index.ts'.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  firstByteRouter,
  HandoffStreamLayer,
  NetworkTransport,
  type NetworkTransportOptions,
  PrefixDialer,
  RpcType,
} from '../src/index.ts';

/** Consul's RPCRaft byte; any byte your other protocols never start with will do. */
export const RAFT_PREFIX = 1;

/** What `startSharedPortNode` needs; all optional. */
export interface SharedPortNodeOptions {
  /** Where to listen (default 127.0.0.1, port 0: any free port). */
  host?: string;
  port?: number;
  /** The routing byte for Raft, written on dial and expected on accept (default RAFT_PREFIX). */
  prefix?: number;
  /** Your HTTP API (default: answers `status ok (<url>)`). */
  api?: http.RequestListener;
  /** Asked before Raft sees a connection (Consul's authorisation hook); default: allow. */
  authorize?: (socket: Duplex) => boolean | Promise<boolean>;
  /** Passed on to the NetworkTransport (e.g. `localID`). */
  transport?: NetworkTransportOptions;
}

/** A running node: its Raft transport and the one address both protocols answer on. */
export interface SharedPortNode {
  raft: NetworkTransport;
  /** host:port of the shared port: Raft's advertised address and the HTTP API's. */
  addr: string;
  /** Closes Raft, then the HTTP API's connections and the listening socket. */
  close(): Promise<void>;
}

/** Starts an HTTP server whose port also carries Raft, routed on the first byte. */
export async function startSharedPortNode(options: SharedPortNodeOptions = {}): Promise<SharedPortNode> {
  const prefix = options.prefix ?? RAFT_PREFIX;
  const api = http.createServer(options.api ?? ((req, res) => res.end(`status ok (${req.url})`)));
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as net.AddressInfo;
  const addr = net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  const layer = new HandoffStreamLayer({
    advertise: addr,
    dialer: new PrefixDialer({ prefix: [prefix] }),
    ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
  });
  server.on(
    'connection',
    firstByteRouter({
      routes: { [prefix]: (socket, head) => layer.handoff(socket, head) },
      fallback: (socket, head) => {
        socket.unshift(head); // HTTP parses from the first byte
        api.emit('connection', socket);
      },
    }),
  );
  const raft = new NetworkTransport(layer, options.transport);
  return {
    raft,
    addr,
    close: async () => {
      await raft.close(); // closes the layer; the listening socket is ours
      api.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function main(): Promise<void> {
  const a = await startSharedPortNode({ transport: { localID: 'a' } });
  const b = await startSharedPortNode({ transport: { localID: 'b' } });
  const serving = (async () => {
    for await (const rpc of b.raft.consumer()) {
      if (rpc.type === RpcType.TimeoutNow) rpc.respond({ rpcHeader: { protocolVersion: 3 } });
      else rpc.respond(null, 'not implemented');
    }
  })();
  await a.raft.timeoutNow('b', b.addr, { rpcHeader: { protocolVersion: 3 } });
  console.log(`raft on ${b.addr}: TimeoutNow answered`);
  const body = await (await fetch(`http://${b.addr}/status`)).text();
  console.log(`http on ${b.addr}: ${body}`);
  await a.close();
  await b.close();
  await serving;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
