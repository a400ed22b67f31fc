/**
 * A KV node: the example Raft over TCP (or mutual TLS), behind the HTTP API
 * of kv-http.ts. Same flags as the Go raftnode, so clusters can mix them:
 *
 *   npx tsx examples/raft/kv/node.ts --id n1 --raft 127.0.0.1:0 --http 127.0.0.1:0 \
 *     [--data DIR] [--bootstrap | --join HTTPADDR] [--tls-ca F --tls-cert F --tls-key F]
 *
 * Without --data the stores are in memory. With neither --bootstrap nor
 * --join the node waits for a leader to add it. Prints "RAFT <addr>" and
 * "HTTP <addr>" once listening; exits cleanly on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { newTCPTransport, newTLSTransport, type Transport } from '../../../src/index.ts';
import { Suffrage } from '../configuration.ts';
import { Raft } from '../raft.ts';
import { FileLogStore, FileSnapshotStore, FileStableStore } from '../stores/file-store.ts';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from '../stores/inmem-store.ts';
import type { LogStore, SnapshotStore, StableStore } from '../types.ts';
import { KVFSM } from './kv-fsm.ts';
import { parseDuration } from './duration.ts';
import { KVHttp } from './kv-http.ts';

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      id: { type: 'string' },
      raft: { type: 'string', default: '127.0.0.1:0' },
      http: { type: 'string', default: '127.0.0.1:0' },
      data: { type: 'string' },
      bootstrap: { type: 'boolean', default: false },
      join: { type: 'string' },
      'snapshot-threshold': { type: 'string', default: '8192' },
      'trailing-logs': { type: 'string', default: '10240' },
      'snapshot-interval': { type: 'string', default: '120s' },
      'heartbeat-timeout': { type: 'string', default: '1000ms' },
      'election-timeout': { type: 'string', default: '1000ms' },
      'leader-lease-timeout': { type: 'string', default: '500ms' },
      'max-append-entries': { type: 'string', default: '64' },
      sync: { type: 'boolean', default: false },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  if (!o.id) {
    process.stderr.write('node: --id is required\n');
    process.exit(2);
  }
  let trans: Transport;
  if (o['tls-ca'] || o['tls-cert'] || o['tls-key']) {
    trans = await newTLSTransport(o.raft, {
      localID: o.id,
      ca: readFileSync(o['tls-ca'] ?? '', 'utf8'),
      cert: readFileSync(o['tls-cert'] ?? '', 'utf8'),
      key: readFileSync(o['tls-key'] ?? '', 'utf8'),
    });
  } else trans = await newTCPTransport(o.raft, { localID: o.id });

  let logs: LogStore;
  let stable: StableStore;
  let snaps: SnapshotStore;
  if (o.data) {
    logs = new FileLogStore(o.data);
    stable = new FileStableStore(o.data);
    snaps = new FileSnapshotStore(o.data);
  } else {
    logs = new InmemLogStore();
    stable = new InmemStableStore();
    snaps = new InmemSnapshotStore();
  }
  const fsm = new KVFSM();
  const raft = new Raft(
    {
      localID: o.id,
      heartbeatTimeout: parseDuration(o['heartbeat-timeout']),
      electionTimeout: parseDuration(o['election-timeout']),
      leaderLeaseTimeout: parseDuration(o['leader-lease-timeout']),
      snapshotThreshold: Number(o['snapshot-threshold']),
      trailingLogs: Number(o['trailing-logs']),
      snapshotInterval: parseDuration(o['snapshot-interval']),
      maxAppendEntries: Number(o['max-append-entries']),
      pipeline: !o.sync,
      log: o.verbose ? (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`) : undefined,
    },
    fsm,
    logs,
    stable,
    snaps,
    trans,
  );
  const fresh = raft.currentTerm() === 0 && logs.lastIndex() === 0 && !snaps.latest();
  if (o.bootstrap && fresh) {
    raft.bootstrapCluster({ servers: [{ id: o.id, address: trans.localAddr(), suffrage: Suffrage.Voter }] });
  }
  const http = new KVHttp(raft, fsm);
  const httpAddr = await http.listen(o.http);
  process.stdout.write(`RAFT ${trans.localAddr()}\nHTTP ${httpAddr}\n`);
  const loops = [http.registerLoop()];
  if (o.join) loops.push(http.joinLoop(o.join, trans.localAddr()));

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    await http.close();
    await Promise.all(loops);
    await raft.shutdown();
    await trans.close();
    if (logs instanceof FileLogStore) logs.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`node: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
