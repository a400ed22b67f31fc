/**
 * A seeded chaos run: KV clients against an in-memory cluster while the
 * schedule (drawn from the seed) partitions it, blocks links one way, adds
 * latency and restarts nodes. Afterwards it heals everything and checks the
 * history: one leader per term, no applied entry differs between nodes, every
 * acknowledged write is in the log, the FSMs converge, and the KV history is
 * linearizable. Test helper only.
 */
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../../../examples/raft/kv/kv-fsm.ts';
import { type RaftError, RaftErrorCode } from '../../../examples/raft/errors.ts';
import { Cluster, FAST } from './cluster.ts';
import { checkLinearizable, type KVOp } from './linearizability.ts';

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosReport {
  seed: number;
  faults: string[];
  ops: number;
  acked: number;
  unknown: number;
  reads: number;
  leaders: number;
  /** TCP runs: the most connections any node held to one peer after healing. */
  maxConnections?: number;
  problems: string[];
}

export async function chaos(
  seed: number,
  size: number,
  phases: number,
  opsPerPhase: number,
  over: 'inmem' | 'tcp' = 'inmem',
): Promise<ChaosReport> {
  const schedule = prng(seed);
  const pick = prng(seed ^ 0x5bd1e995);
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const cluster = await Cluster.create(
    ids,
    { ...FAST, snapshotThreshold: 48, trailingLogs: 16, snapshotInterval: 100 },
    prng(seed ^ 0x9e3779b9),
    over === 'tcp' ? { seed } : undefined,
  );
  cluster.bootstrap();
  (globalThis as Record<string, unknown>).dump = () => {
    for (const n of cluster.nodes.values()) {
      const ls = n.raft.leaderState;
      const reps = ls
        ? [...ls.replications.values()].map((r) => `${r.server.id}:m${r.matchIndex}/n${r.nextIndex}`).join(' ')
        : '';
      console.log(n.id, n.up, JSON.stringify({ ...n.raft.stats(), configuration: undefined }), reps, ls?.waiting.size);
    }
    console.log('completed', completed, 'phase faults', faults);
  };
  const history: KVOp[] = [];
  const faults: string[] = [];
  const problems: string[] = [];
  const keys = ['a', 'b', 'c', 'd'];
  let completed = 0;
  /** Ops the clients may complete so far: each phase adds `opsPerPhase`, which bounds the history. */
  let budget = 0;
  let running = true;

  const client = async (c: number): Promise<void> => {
    let seq = 0;
    while (running) {
      const leader = cluster.leaders().sort((x, y) => y.raft.currentTerm() - x.raft.currentTerm())[0];
      if (!leader || completed >= budget) {
        await cluster.anyEvent(20);
        continue;
      }
      const key = keys[Math.floor(pick() * keys.length)]!;
      const roll = pick();
      const call = performance.now();
      if (roll < 0.4) {
        try {
          await leader.raft.barrier();
          history.push({ kind: 'read', key, value: leader.fsm.get(key), call, ret: performance.now(), client: c });
        } catch {
          // a failed read observed nothing
        }
      } else {
        const value = roll < 0.9 ? `${c}.${seq++}` : undefined;
        const cmd = value === undefined ? encodeCommand({ op: 'delete', key }) : encodeCommand({ op: 'set', key, value });
        try {
          await leader.raft.apply(cmd);
          history.push({ kind: 'write', key, value, call, ret: performance.now(), client: c });
        } catch (err) {
          // not-leader means it was never appended; anything else may still commit
          if ((err as RaftError).code !== RaftErrorCode.NotLeader) {
            history.push({ kind: 'write', key, value, call, ret: Number.POSITIVE_INFINITY, client: c });
          }
        }
      }
      completed++;
    }
  };
  const clients = Array.from({ length: 4 }, (_, c) => client(c));

  const down = new Set<string>();
  for (let p = 0; p < phases; p++) {
    const leader = cluster.leaders()[0];
    const others = ids.filter((id) => id !== leader?.id);
    const any = (list: string[]): string => list[Math.floor(schedule() * list.length)]!;
    const kind = Math.floor(schedule() * 6);
    switch (kind) {
      case 0: {
        const shuffled = [...ids].sort(() => schedule() - 0.5);
        const cut = 1 + Math.floor(schedule() * (size - 1));
        cluster.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        faults.push(`partition ${shuffled.slice(0, cut)}|${shuffled.slice(cut)}`);
        break;
      }
      case 1:
        if (leader) {
          cluster.partition([[leader.id], others]);
          faults.push(`isolate leader ${leader.id}`);
        }
        break;
      case 2: {
        const a = leader?.id ?? any(ids);
        const b = any(ids.filter((id) => id !== a));
        const [from, to] = schedule() < 0.5 ? [a, b] : [b, a];
        cluster.block(from, to);
        faults.push(`block ${from}->${to}`);
        break;
      }
      case 3: {
        const victim = schedule() < 0.5 && leader ? leader.id : any(ids);
        await cluster.stopNode(victim);
        down.add(victim);
        faults.push(`stop ${victim}`);
        break;
      }
      case 4: {
        const max = 5 + Math.floor(schedule() * 25);
        cluster.setLatency(1, max);
        faults.push(`latency 1-${max}ms`);
        break;
      }
      default:
        faults.push('calm');
    }
    budget += opsPerPhase;
    const target = budget;
    // Each fault lasts long enough for elections to happen under it (a few
    // heartbeat timeouts) and for the clients to push ops through it.
    const minEnd = Date.now() + 400;
    const deadline = Date.now() + 2500;
    while ((completed < target || Date.now() < minEnd) && Date.now() < deadline) await cluster.anyEvent(100);
    cluster.heal();
    cluster.setLatency(0, 0);
    for (const id of down) await cluster.startNode(id);
    down.clear();
  }
  running = false;
  const settled = await Promise.race([
    Promise.all(clients).then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 15_000).unref()),
  ]);
  if (!settled) {
    (globalThis as unknown as Record<string, (() => void) | undefined>).dump?.();
    problems.push('clients stuck: an apply() or barrier() neither resolved nor failed within 15 s of healing');
    await cluster.close();
    return { seed, faults, ops: history.length, acked: 0, unknown: 0, reads: 0, leaders: cluster.history.leaders.size, problems };
  }

  // Heal and converge.
  const leader = await cluster.waitLeader(15_000);
  await leader.raft.barrier();
  await cluster.waitApplied(leader.raft.lastApplied, 15_000);
  const want = leader.fsm.entries();
  for (const n of cluster.nodes.values()) {
    if (JSON.stringify(n.fsm.entries()) !== JSON.stringify(want)) problems.push(`${n.id} diverged from ${leader.id}`);
  }
  problems.push(...cluster.history.violations);
  const appliedData = new Set([...cluster.history.applied.values()].map((sig) => sig.split(':')[2]));
  for (const op of history) {
    if (op.kind !== 'write' || op.ret === Number.POSITIVE_INFINITY) continue;
    const cmd =
      op.value === undefined ? { op: 'delete' as const, key: op.key } : { op: 'set' as const, key: op.key, value: op.value };
    if (op.value !== undefined && !appliedData.has(Buffer.from(encodeCommand(cmd)).toString('hex'))) {
      problems.push(`acknowledged write ${op.key}=${op.value} is not in the log`);
    }
  }
  let maxConnections = 0;
  if (cluster.network) {
    // No leak on flapping links: once healed, each node holds at most the pool (3), a pipeline and
    // one call in progress per peer, however many connections the faults broke and redialed.
    for (const n of cluster.nodes.values()) {
      for (const p of n.trans.stats().peers) {
        maxConnections = Math.max(maxConnections, p.connectionsOpen);
        if (p.connectionsOpen > 5) problems.push(`${n.id} holds ${p.connectionsOpen} connections to ${p.peer}`);
      }
    }
  }
  const lin = checkLinearizable(history);
  if (!lin.ok) problems.push(`history of key ${lin.badKey} is not linearizable`);
  await cluster.close();
  return {
    seed,
    faults,
    ops: history.length,
    acked: history.filter((o) => o.kind === 'write' && o.ret !== Number.POSITIVE_INFINITY).length,
    unknown: history.filter((o) => o.ret === Number.POSITIVE_INFINITY).length,
    reads: history.filter((o) => o.kind === 'read').length,
    leaders: cluster.history.leaders.size,
    maxConnections,
    problems,
  };
}
