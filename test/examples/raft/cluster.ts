/**
 * An in-process cluster of example Rafts over InmemTransport, with a
 * controllable network (partitions, one-way blocks) and restarts that keep
 * each node's stores, as a disk would. Test helper only.
 */
import {
  FaultNetwork,
  InmemTransport,
  NetworkTransport,
  type ServerID,
  TCPStreamLayer,
  type Transport,
} from '../../../src/index.ts';
import { KVFSM } from '../../../examples/raft/kv/kv-fsm.ts';
import { Raft } from '../../../examples/raft/raft.ts';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from '../../../examples/raft/stores/inmem-store.ts';
import type { RaftConfig } from '../../../examples/raft/types.ts';
import { Suffrage } from '../../../examples/raft/configuration.ts';
import type { Log } from '../../../src/index.ts';
import { LaggyTransport } from './laggy-transport.ts';

export interface Node {
  id: ServerID;
  addr: string;
  /** The real transport: in memory, or TCP through a FaultNetwork layer. */
  trans: Transport;
  raft: Raft;
  fsm: KVFSM;
  logs: InmemLogStore;
  stable: InmemStableStore;
  snaps: InmemSnapshotStore;
  up: boolean;
  /** What the Raft talks through: the in-memory transport behind a latency shim. */
  laggy: LaggyTransport;
}

/** Everything the history checker needs, recorded as it happens. */
export interface History {
  /** term → leader id, from every node's own `state` events. */
  leaders: Map<number, Set<ServerID>>;
  /** index → "term:type:data" of the first application anywhere; later ones must match. */
  applied: Map<number, string>;
  violations: string[];
}

export const FAST: Partial<RaftConfig> = {
  heartbeatTimeout: 150,
  electionTimeout: 150,
  leaderLeaseTimeout: 120,
  commitTimeout: 5,
  rpcTimeout: 300,
  snapshotTimeout: 2000,
  snapshotInterval: 0,
};

export class Cluster {
  readonly nodes = new Map<ServerID, Node>();
  /** Directed links that are cut: "from>to". */
  readonly blocked = new Set<string>();
  private latency: [number, number] = [0, 0];
  readonly history: History = { leaders: new Map(), applied: new Map(), violations: [] };

  /** Set for TCP clusters: partitions, blocks and latency go through it. */
  network: FaultNetwork | undefined;

  /** Builds and starts a cluster; `tcp` runs it over NetworkTransport on 127.0.0.1 through a seeded FaultNetwork. */
  static async create(
    ids: ServerID[],
    conf: Partial<RaftConfig> = FAST,
    random: () => number = Math.random,
    tcp?: { seed: number },
  ): Promise<Cluster> {
    const c = new Cluster(ids, conf, random);
    if (tcp) c.network = new FaultNetwork({ seed: tcp.seed });
    for (const n of c.nodes.values()) await c.boot(n);
    c.relink();
    return c;
  }

  private constructor(
    ids: ServerID[],
    private readonly conf: Partial<RaftConfig>,
    private readonly random: () => number,
  ) {
    for (const id of ids) {
      const node: Node = {
        id,
        addr: `addr-${id}`,
        trans: undefined as unknown as InmemTransport,
        raft: undefined as unknown as Raft,
        fsm: new KVFSM(),
        logs: new InmemLogStore(),
        stable: new InmemStableStore(),
        snaps: new InmemSnapshotStore(),
        up: false,
        laggy: undefined as unknown as LaggyTransport,
      };
      this.nodes.set(id, node);
    }
  }

  private async boot(n: Node): Promise<void> {
    if (this.network) {
      const inner = await TCPStreamLayer.listen(n.addr.startsWith('127.') ? n.addr : '127.0.0.1:0');
      n.addr = inner.addr();
      n.trans = new NetworkTransport(this.network.join(inner, { name: n.id }), { localID: n.id, timeout: 500 });
    } else n.trans = new InmemTransport(n.addr, { localID: n.id, timeout: 500 });
    n.laggy = new LaggyTransport(n.trans, this.random);
    if (!this.network) n.laggy.latency = this.latency;
    n.fsm = new KVFSM();
    n.raft = new Raft({ ...this.conf, localID: n.id, random: this.random }, n.fsm, n.logs, n.stable, n.snaps, n.laggy);
    n.up = true;
    const raft = n.raft;
    raft.on('state', (s: string, term: number) => {
      if (s !== 'Leader') return;
      const set = this.history.leaders.get(term) ?? new Set();
      set.add(n.id);
      this.history.leaders.set(term, set);
      if (set.size > 1) this.history.violations.push(`two leaders in term ${term}: ${[...set].join(',')}`);
    });
    raft.on('applied', (log: Log) => {
      const sig = `${log.term}:${log.type}:${log.data ? Buffer.from(log.data).toString('hex') : ''}`;
      const seen = this.history.applied.get(log.index);
      if (seen === undefined) this.history.applied.set(log.index, sig);
      else if (seen !== sig)
        this.history.violations.push(`entry ${log.index} applied as ${sig} on ${n.id}, elsewhere as ${seen}`);
    });
  }

  /** Bootstraps every node with the full configuration (as hashicorp tests do). */
  bootstrap(): void {
    const servers = [...this.nodes.values()].map((n) => ({ id: n.id, address: n.addr, suffrage: Suffrage.Voter }));
    for (const n of this.nodes.values()) n.raft.bootstrapCluster({ servers });
  }

  /** Applies `blocked` to the in-memory routes. */
  relink(): void {
    const net = this.network;
    if (net) {
      void net.heal();
      for (const key of this.blocked) {
        const [from, to] = key.split('>') as [string, string];
        void net.block(from, to);
      }
      return;
    }
    for (const a of this.nodes.values()) {
      if (!a.up) continue;
      for (const b of this.nodes.values()) {
        if (a === b) continue;
        const t = a.trans as InmemTransport;
        if (b.up && !this.blocked.has(`${a.id}>${b.id}`)) t.connect(b.addr, b.trans);
        else t.disconnect(b.addr);
      }
    }
  }

  partition(groups: ServerID[][]): void {
    this.blocked.clear();
    const side = new Map<ServerID, number>();
    groups.forEach((g, i) => {
      for (const id of g) side.set(id, i);
    });
    for (const a of this.nodes.keys())
      for (const b of this.nodes.keys()) if (a !== b && side.get(a) !== side.get(b)) this.blocked.add(`${a}>${b}`);
    this.relink();
  }

  block(from: ServerID, to: ServerID): void {
    this.blocked.add(`${from}>${to}`);
    this.relink();
  }

  /** Latency on every outgoing call of every node, ms. */
  setLatency(min: number, max: number): void {
    this.latency = [min, max];
    if (this.network) {
      this.network.configure(max > 0 ? { latency: { minMs: min, maxMs: max } } : {});
      void this.network.cutAll(); // so open connections redial with the new latency
      return;
    }
    for (const n of this.nodes.values()) if (n.up) n.laggy.latency = [min, max];
  }

  heal(): void {
    this.blocked.clear();
    this.relink();
  }

  async stopNode(id: ServerID): Promise<void> {
    const n = this.nodes.get(id)!;
    if (!n.up) return;
    n.up = false;
    await n.raft.shutdown();
    await n.trans.close();
    this.relink();
  }

  async startNode(id: ServerID): Promise<void> {
    const n = this.nodes.get(id)!;
    if (n.up) return;
    await this.boot(n);
    this.relink();
  }

  leaders(): Node[] {
    return [...this.nodes.values()].filter((n) => n.up && n.raft.state() === 'Leader');
  }

  /** Resolves with the leader once exactly one node leads and knows it has a quorum. */
  async waitLeader(timeoutMs = 10_000): Promise<Node> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ls = this.leaders();
      const top = ls.sort((a, b) => b.raft.currentTerm() - a.raft.currentTerm())[0];
      if (top) return top;
      if (Date.now() > deadline) throw new Error('no leader elected');
      await this.anyEvent(deadline - Date.now());
    }
  }

  /** Waits until every running node applied `index`. */
  async waitApplied(index: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.nodes.values()].some((n) => n.up && n.raft.lastApplied < index)) {
      if (Date.now() > deadline) {
        const st = [...this.nodes.values()].map((n) => `${n.id}:${n.up ? n.raft.lastApplied : 'down'}`).join(' ');
        throw new Error(`not all applied ${index}: ${st}`);
      }
      await this.anyEvent(deadline - Date.now());
    }
  }

  /** Resolves on the next progress event of any running node (or after `ms`). */
  anyEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const rafts = [...this.nodes.values()].filter((n) => n.up).map((n) => n.raft);
      const done = (): void => {
        clearTimeout(timer);
        for (const r of rafts) r.off('progress', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, Math.min(ms, 200)));
      for (const r of rafts) r.on('progress', done);
    });
  }

  async close(): Promise<void> {
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      n.up = false;
      await n.raft.shutdown();
      await n.trans.close();
    }
  }
}
