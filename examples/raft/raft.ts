/**
 * A compact Raft in hashicorp/raft's shape, written only against the public
 * `Transport` contract of raft-transport:
 *
 *   const raft = new Raft(config, fsm, logStore, stableStore, snapshotStore, transport);
 *   await raft.apply(data);
 *
 * One async loop takes incoming RPCs with `transport.receive({ timeout })`
 * (Go's `select` on the RPC channel and the election timer); heartbeats come
 * through `setHeartbeatHandler`, so a slow disk never delays them. A leader
 * runs one replication loop and one heartbeat loop per follower
 * (replication.ts). Elections, with pre-vote, are in election.ts.
 *
 * Stores are synchronous, so every handler runs to completion between awaits:
 * the only concurrency is between RPC round trips, and each continuation
 * re-checks that the term and role it started in still hold.
 */
import { EventEmitter } from 'node:events';
import {
  appendEntriesResponse,
  type AppendEntriesRPC,
  type InstallSnapshotRPC,
  type Log,
  LogType,
  type RPC,
  RpcType,
  type ServerAddress,
  type ServerID,
  type TimeoutNowRPC,
  type Transport,
  installSnapshotResponse,
  isTransportError,
  timeoutNowResponse,
  type TimeoutNowRequest,
  timeoutNowRequest,
} from '../../src/index.ts';
import {
  type Configuration,
  cloneConfiguration,
  decodeConfiguration,
  encodeConfiguration,
  isVoter,
  Suffrage,
  voters,
} from './configuration.ts';
import { Election } from './election.ts';
import { leadershipLost, notLeader, RaftError, RaftErrorCode, raftShutdown } from './errors.ts';
import { Replication } from './replication.ts';
import {
  DEFAULT_CONFIG,
  type FSM,
  type LogStore,
  type RaftConfig,
  type RaftState,
  type SnapshotMeta,
  type SnapshotStore,
  type StableStore,
} from './types.ts';

const textDecoder = new TextDecoder();
const text = (b: Uint8Array | null | undefined): string => (b ? textDecoder.decode(b) : '');

/** A leader's view of the cluster, alive for one term of leadership. */
interface LeaderState {
  term: number;
  /** First index of this term: entries before it commit only through a later one (Raft §5.4.2). */
  commitStart: number;
  replications: Map<ServerID, Replication>;
  /** Apply/barrier/configuration callers waiting for their entry to be applied, by index. */
  waiting: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  transferring: boolean;
  abort: AbortController;
}

export interface RaftStats {
  state: RaftState;
  term: number;
  lastLogIndex: number;
  lastLogTerm: number;
  commitIndex: number;
  appliedIndex: number;
  lastSnapshotIndex: number;
  lastSnapshotTerm: number;
  lastContact: number;
  configuration: Configuration;
  configurationIndex: number;
}

/** Events: `state` (state, term), `leader` (id | undefined, term), `applied` (log), `progress` (any commit/match change). */
export class Raft extends EventEmitter {
  readonly config: RaftConfig;
  readonly random: () => number;
  private stateValue: RaftState = 'Follower';
  private term = 0;
  private voteTerm = 0;
  private voteFor = '';
  commitIndex = 0;
  lastApplied = 0;
  private snap = { index: 0, term: 0 };
  /** Latest configuration (may be uncommitted) and the committed one, with their log indexes. */
  latest: { c: Configuration; index: number } = { c: { servers: [] }, index: 0 };
  committed: { c: Configuration; index: number } = { c: { servers: [] }, index: 0 };
  /** The configuration as of `lastApplied`, for snapshots. */
  private appliedConfig: { c: Configuration; index: number } = { c: { servers: [] }, index: 0 };
  private leaderValue: { id: ServerID; address: ServerAddress } | undefined;
  lastContact = 0;
  leaderState: LeaderState | undefined;
  private election: Election | undefined;
  private timerStart = Date.now();
  private timerLength = 0;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private snapshotting = false;

  constructor(
    config: Partial<RaftConfig> & { localID: ServerID; random?: () => number },
    readonly fsm: FSM,
    readonly logs: LogStore,
    readonly stable: StableStore,
    readonly snapshots: SnapshotStore,
    readonly trans: Transport,
  ) {
    super();
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.random = config.random ?? Math.random;
    this.restoreState();
    this.resetTimer(this.config.heartbeatTimeout);
    trans.setHeartbeatHandler((rpc) => this.onAppendEntries(rpc));
    this.loop = this.run();
    if (this.config.snapshotInterval > 0) {
      this.snapshotTimer = setInterval(() => this.maybeSnapshot(), this.config.snapshotInterval);
      this.snapshotTimer.unref();
    }
  }

  // ---- public API ---------------------------------------------------------

  /** Creates the initial configuration; only on a node with no state at all (hashicorp's BootstrapCluster). */
  bootstrapCluster(c: Configuration): void {
    if (this.term !== 0 || this.logs.lastIndex() !== 0 || this.snap.index !== 0) {
      throw new Error('bootstrap only works on new clusters');
    }
    this.setTerm(1);
    const entry: Log = { index: 1, term: 1, type: LogType.Configuration, data: encodeConfiguration(c), appendedAt: new Date() };
    this.logs.storeLogs([entry]);
    this.latest = { c: cloneConfiguration(c), index: 1 };
  }

  /** Replicates `data` as a command; resolves with the FSM's result once applied here. */
  apply(data: Uint8Array, _timeout?: number): Promise<unknown> {
    return this.dispatch(LogType.Command, data);
  }

  /** Resolves once every entry before it is applied: a read after it sees all acknowledged writes. */
  async barrier(): Promise<void> {
    await this.dispatch(LogType.Barrier, null);
  }

  /** Adds (or promotes) a voter; resolves once the new configuration is applied. */
  async addVoter(id: ServerID, address: ServerAddress, timeout = 10_000): Promise<void> {
    await this.changeConfiguration(timeout, (c) => {
      const s = c.servers.find((x) => x.id === id);
      if (s) {
        s.address = address;
        s.suffrage = Suffrage.Voter;
      } else c.servers.push({ id, address, suffrage: Suffrage.Voter });
    });
  }

  /** Removes a server; a leader that removes itself steps down once the change commits. */
  async removeServer(id: ServerID, timeout = 10_000): Promise<void> {
    await this.changeConfiguration(timeout, (c) => {
      c.servers = c.servers.filter((x) => x.id !== id);
    });
  }

  /** Hands leadership to `id` (or the most up-to-date voter) with TimeoutNow. */
  async leadershipTransfer(id?: ServerID): Promise<void> {
    const ls = this.requireLeader();
    if (ls.transferring) throw new RaftError(RaftErrorCode.LeadershipTransferInProgress, 'leadership transfer in progress');
    let target: Replication | undefined;
    if (id !== undefined) {
      target = ls.replications.get(id);
      if (!target || !isVoter(this.latest.c, id)) throw new RaftError(RaftErrorCode.Unknown, `cannot transfer to ${id}`);
    } else {
      for (const r of ls.replications.values()) {
        if (isVoter(this.latest.c, r.server.id) && (!target || r.matchIndex > target.matchIndex)) target = r;
      }
      if (!target) throw new RaftError(RaftErrorCode.Unknown, 'no voter to transfer leadership to');
    }
    ls.transferring = true;
    const deadline = this.config.electionTimeout * 2;
    try {
      const last = this.lastIndex();
      const caughtUp = await this.waitFor(() => target.matchIndex >= last, deadline);
      if (!caughtUp || this.leaderState !== ls) throw new RaftError(RaftErrorCode.Timeout, 'target did not catch up');
      await this.trans.timeoutNow(target.server.id, target.server.address, this.timeoutNowReq(), {
        timeout: this.config.rpcTimeout,
      });
      if (!(await this.waitFor(() => this.leaderState !== ls, deadline))) {
        throw new RaftError(RaftErrorCode.Timeout, 'leadership transfer timed out');
      }
    } finally {
      ls.transferring = false;
    }
  }

  /** Takes a snapshot of the FSM now and compacts the log behind it. */
  snapshot(): SnapshotMeta {
    if (this.stateValue === 'Shutdown') throw raftShutdown();
    if (this.lastApplied <= this.snap.index) throw new RaftError(RaftErrorCode.NothingNew, 'nothing new to snapshot');
    const index = this.lastApplied;
    const term = this.termAt(index) ?? this.snap.term;
    const data = this.fsm.snapshot();
    const meta = this.snapshots.save(
      { index, term, configuration: cloneConfiguration(this.appliedConfig.c), configurationIndex: this.appliedConfig.index },
      data,
    );
    this.snap = { index, term };
    const compactTo = index - this.config.trailingLogs;
    const first = this.logs.firstIndex();
    if (first > 0 && compactTo >= first) this.logs.deleteRange(first, Math.min(compactTo, this.logs.lastIndex()));
    this.trace(`snapshot at ${index}, log from ${this.logs.firstIndex()}`);
    return meta;
  }

  state(): RaftState {
    return this.stateValue;
  }

  /** The current leader, as far as this node knows. */
  leader(): { id: ServerID; address: ServerAddress } | undefined {
    return this.leaderValue;
  }

  currentTerm(): number {
    return this.term;
  }

  stats(): RaftStats {
    const last = this.lastEntry();
    return {
      state: this.stateValue,
      term: this.term,
      lastLogIndex: last.index,
      lastLogTerm: last.term,
      commitIndex: this.commitIndex,
      appliedIndex: this.lastApplied,
      lastSnapshotIndex: this.snap.index,
      lastSnapshotTerm: this.snap.term,
      lastContact: this.lastContact,
      configuration: cloneConfiguration(this.latest.c),
      configurationIndex: this.latest.index,
    };
  }

  /** Stops the node. The transport stays open: whoever created it closes it. */
  async shutdown(): Promise<void> {
    if (this.stateValue === 'Shutdown') return;
    this.stepDownLeader(raftShutdown());
    this.election?.cancel();
    this.setState('Shutdown');
    this.stop.abort();
    clearInterval(this.snapshotTimer);
    this.trans.setHeartbeatHandler(null);
    await this.loop;
  }

  // ---- the main loop ------------------------------------------------------

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      let rpc: RPC | undefined;
      const wait = Math.max(1, this.timerStart + this.timerLength - Date.now());
      try {
        rpc = await this.trans.receive({ timeout: wait, signal });
      } catch (err) {
        if (signal.aborted || isTransportError(err)) break;
        throw err;
      }
      if (rpc) {
        try {
          await this.handleRPC(rpc);
        } catch (err) {
          this.trace(`rpc ${rpc.type} failed: ${(err as Error).message}`);
        }
      }
      if (Date.now() >= this.timerStart + this.timerLength) this.onTimer();
    }
  }

  private handleRPC(rpc: RPC): Promise<void> | undefined {
    switch (rpc.type) {
      case RpcType.AppendEntries:
        this.onAppendEntries(rpc);
        return;
      case RpcType.RequestVote:
        this.ensureElection().onRequestVote(rpc);
        return;
      case RpcType.RequestPreVote:
        this.ensureElection().onRequestPreVote(rpc);
        return;
      case RpcType.TimeoutNow:
        this.onTimeoutNow(rpc);
        return;
      case RpcType.InstallSnapshot:
        return this.onInstallSnapshot(rpc);
    }
  }

  private ensureElection(): Election {
    this.election ??= new Election(this);
    return this.election;
  }

  /** The single timer: heartbeat timeout (follower), election timeout (candidate), lease check (leader). */
  private onTimer(): void {
    switch (this.stateValue) {
      case 'Follower':
        if (Date.now() - this.lastContact < this.config.heartbeatTimeout) {
          this.resetTimer(this.config.heartbeatTimeout);
          return;
        }
        this.setLeader(undefined);
        if (!isVoter(this.latest.c, this.config.localID)) {
          this.resetTimer(this.config.heartbeatTimeout);
          return;
        }
        this.trace('heartbeat timeout: campaigning');
        this.campaign(false);
        return;
      case 'Candidate':
        this.campaign(false);
        return;
      case 'Leader':
        this.checkLease();
        return;
    }
  }

  private campaign(transfer: boolean): void {
    this.setState('Candidate');
    this.setLeader(undefined);
    this.resetTimer(this.config.electionTimeout);
    void this.ensureElection().run(transfer);
  }

  /** Randomised like hashicorp's: between `base` and 2x `base` (the lease check is not randomised). */
  resetTimer(base: number, random = true): void {
    this.timerStart = Date.now();
    this.timerLength = random ? base + Math.floor(this.random() * base) : base;
  }

  private checkLease(): void {
    const ls = this.leaderState!;
    const now = Date.now();
    let contacted = 0;
    const vs = voters(this.latest.c);
    for (const s of vs) {
      if (s.id === this.config.localID) contacted++;
      else {
        const r = ls.replications.get(s.id);
        if (r && now - r.lastContact <= this.config.leaderLeaseTimeout) contacted++;
      }
    }
    if (contacted < Math.floor(vs.length / 2) + 1) {
      this.trace('lost contact with a quorum: stepping down');
      this.stepDownLeader(leadershipLost());
      this.setState('Follower');
      this.setLeader(undefined);
      this.resetTimer(this.config.heartbeatTimeout);
      return;
    }
    this.resetTimer(this.config.leaderLeaseTimeout, false);
  }

  // ---- follower side ------------------------------------------------------

  /** AppendEntries and heartbeats, as hashicorp's `appendEntries`. */
  onAppendEntries(rpc: AppendEntriesRPC): void {
    const req = rpc.command;
    const reply = (success: boolean, noRetryBackoff = false): void =>
      rpc.respond(appendEntriesResponse({ term: this.term, lastLog: this.lastIndex(), success, noRetryBackoff }));
    if (this.stateValue === 'Shutdown') {
      rpc.respond(null, 'raft is shutdown');
      return;
    }
    if (req.term < this.term) {
      reply(false);
      return;
    }
    if (req.term > this.term || this.stateValue !== 'Follower') {
      if (req.term > this.term) this.setTerm(req.term);
      this.becomeFollower();
    }
    const addr = text(req.rpcHeader.addr?.length ? req.rpcHeader.addr : req.leader);
    this.setLeader({ id: text(req.rpcHeader.id) || this.idOf(addr), address: addr });
    this.lastContact = Date.now();

    if (req.prevLogEntry > 0) {
      const prevTerm = this.termAt(req.prevLogEntry);
      if (prevTerm === undefined || prevTerm !== req.prevLogTerm) {
        reply(false, true);
        return;
      }
    }
    const entries = req.entries ?? [];
    if (entries.length > 0) {
      const last = this.lastIndex();
      let fresh: Log[] = [];
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.index > last) {
          fresh = entries.slice(i);
          break;
        }
        const mine = this.termAt(e.index);
        if (mine !== e.term) {
          this.logs.deleteRange(e.index, last);
          if (e.index <= this.latest.index)
            this.latest = { c: cloneConfiguration(this.committed.c), index: this.committed.index };
          fresh = entries.slice(i);
          break;
        }
      }
      if (fresh.length > 0) {
        this.logs.storeLogs(fresh);
        for (const e of fresh)
          if (e.type === LogType.Configuration && e.data) this.latest = { c: decodeConfiguration(e.data), index: e.index };
      }
    }
    if (req.leaderCommitIndex > this.commitIndex) {
      // Only what this request proved we share with the leader (Raft's "index of last new entry").
      const upTo = Math.min(req.leaderCommitIndex, req.prevLogEntry + entries.length);
      if (upTo > this.commitIndex) this.setCommitIndex(upTo);
    }
    reply(true);
  }

  private onTimeoutNow(rpc: TimeoutNowRPC): void {
    rpc.respond(timeoutNowResponse({ id: this.config.localID, addr: this.trans.localAddr() }));
    if (this.stateValue === 'Shutdown' || !isVoter(this.latest.c, this.config.localID)) return;
    this.trace('TimeoutNow: campaigning for a leadership transfer');
    this.stepDownLeader(leadershipLost());
    this.campaign(true);
  }

  private async onInstallSnapshot(rpc: InstallSnapshotRPC): Promise<void> {
    const req = rpc.command;
    const parts: Buffer[] = [];
    try {
      for await (const chunk of rpc.reader) parts.push(chunk as Buffer);
    } catch (err) {
      rpc.respond(null, `reading snapshot: ${(err as Error).message}`);
      return;
    }
    const reply = (success: boolean): void => rpc.respond(installSnapshotResponse({ term: this.term, success }));
    if (this.stateValue === 'Shutdown') {
      rpc.respond(null, 'raft is shutdown');
      return;
    }
    if (req.term < this.term) {
      reply(false);
      return;
    }
    if (req.term > this.term) this.setTerm(req.term);
    this.becomeFollower();
    const addr = text(req.rpcHeader.addr?.length ? req.rpcHeader.addr : req.leader);
    this.setLeader({ id: text(req.rpcHeader.id) || this.idOf(addr), address: addr });
    const data = Buffer.concat(parts);
    if (data.length !== req.size) {
      rpc.respond(null, `snapshot size ${data.length} != ${req.size}`);
      return;
    }
    const configuration = req.configuration ? decodeConfiguration(req.configuration) : { servers: [] };
    this.snapshots.save(
      { index: req.lastLogIndex, term: req.lastLogTerm, configuration, configurationIndex: req.configurationIndex },
      data,
    );
    this.fsm.restore(data);
    // Keep the log after the snapshot only if it agrees at the snapshot's index.
    const first = this.logs.firstIndex();
    const last = this.logs.lastIndex();
    if (first > 0) {
      if (this.termAt(req.lastLogIndex) === req.lastLogTerm && last > req.lastLogIndex) {
        this.logs.deleteRange(first, req.lastLogIndex);
      } else this.logs.deleteRange(first, last);
    }
    this.snap = { index: req.lastLogIndex, term: req.lastLogTerm };
    const cfg = { c: configuration, index: req.configurationIndex };
    this.latest = cfg;
    this.committed = cfg;
    this.appliedConfig = cfg;
    this.lastApplied = req.lastLogIndex;
    if (this.commitIndex < req.lastLogIndex) this.commitIndex = req.lastLogIndex;
    this.lastContact = Date.now();
    this.trace(`installed snapshot at ${req.lastLogIndex}`);
    this.emit('progress');
    reply(true);
  }

  // ---- leader side --------------------------------------------------------

  /** Called by the election on winning a quorum. */
  becomeLeader(): void {
    this.setState('Leader');
    this.setLeader({ id: this.config.localID, address: this.trans.localAddr() });
    const ls: LeaderState = {
      term: this.term,
      commitStart: this.lastIndex() + 1,
      replications: new Map(),
      waiting: new Map(),
      transferring: false,
      abort: new AbortController(),
    };
    this.leaderState = ls;
    this.trace(`leader for term ${this.term}`);
    this.resetTimer(this.config.leaderLeaseTimeout, false);
    this.syncReplication();
    // A Noop in the new term commits everything before it (hashicorp does the same).
    this.dispatch(LogType.Noop, null).catch(() => {});
  }

  /** Starts replication to new servers of the latest configuration and stops it for removed ones. */
  private syncReplication(): void {
    const ls = this.leaderState;
    if (!ls) return;
    const want = new Set<ServerID>();
    for (const s of this.latest.c.servers) {
      if (s.id === this.config.localID) continue;
      want.add(s.id);
      const r = ls.replications.get(s.id);
      if (r) r.server.address = s.address;
      else {
        const rep = new Replication(this, { ...s }, ls.term, this.lastIndex() + 1, ls.abort.signal);
        ls.replications.set(s.id, rep);
        rep.start();
      }
    }
    for (const [id, r] of ls.replications) {
      if (!want.has(id)) {
        r.stop();
        ls.replications.delete(id);
      }
    }
  }

  private requireLeader(): LeaderState {
    if (this.stateValue === 'Shutdown') throw raftShutdown();
    const ls = this.leaderState;
    if (!ls || this.stateValue !== 'Leader') throw notLeader();
    return ls;
  }

  /** Appends one entry to the leader's log and resolves once it is applied here. */
  private dispatch(type: LogType, data: Uint8Array | null): Promise<unknown> {
    let ls: LeaderState;
    try {
      ls = this.requireLeader();
      if (ls.transferring && type !== LogType.Noop) {
        throw new RaftError(RaftErrorCode.LeadershipTransferInProgress, 'leadership transfer in progress');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const index = this.lastIndex() + 1;
    const entry: Log = { index, term: ls.term, type, data, appendedAt: new Date() };
    this.logs.storeLogs([entry]);
    const done = new Promise<unknown>((resolve, reject) => ls.waiting.set(index, { resolve, reject }));
    if (type === LogType.Configuration && data) {
      this.latest = { c: decodeConfiguration(data), index };
      this.syncReplication();
    }
    for (const r of ls.replications.values()) r.notify();
    this.updateCommit();
    return done;
  }

  private async changeConfiguration(timeout: number, change: (c: Configuration) => void): Promise<void> {
    this.requireLeader();
    if (this.latest.index !== this.committed.index) {
      const ok = await this.waitFor(() => this.latest.index === this.committed.index || this.stateValue !== 'Leader', timeout);
      if (!ok) throw new RaftError(RaftErrorCode.ConfigurationChangePending, 'a configuration change is still pending');
    }
    this.requireLeader();
    const next = cloneConfiguration(this.latest.c);
    change(next);
    await this.dispatch(LogType.Configuration, encodeConfiguration(next));
  }

  /** Commit by quorum match index, counting only this term's entries (Raft §5.4.2). */
  updateCommit(): void {
    const ls = this.leaderState;
    if (!ls) return;
    const matches = voters(this.latest.c).map((s) =>
      s.id === this.config.localID ? this.lastIndex() : (ls.replications.get(s.id)?.matchIndex ?? 0),
    );
    if (matches.length === 0) return;
    matches.sort((a, b) => b - a);
    const quorumMatch = matches[Math.floor(matches.length / 2)]!;
    if (quorumMatch > this.commitIndex && quorumMatch >= ls.commitStart) this.setCommitIndex(quorumMatch);
  }

  /** Steps down from leadership (if leading): stops replication and fails every waiting call with `err`. */
  stepDownLeader(err: Error): void {
    const ls = this.leaderState;
    if (!ls) return;
    this.leaderState = undefined;
    ls.abort.abort();
    for (const r of ls.replications.values()) r.stop();
    for (const w of ls.waiting.values()) w.reject(err);
    ls.waiting.clear();
  }

  /** A response carried a newer term: we are out of date. */
  observeTerm(term: number): void {
    if (term <= this.term || this.stateValue === 'Shutdown') return;
    this.setTerm(term);
    this.becomeFollower();
    this.setLeader(undefined);
  }

  becomeFollower(): void {
    if (this.stateValue === 'Shutdown') return;
    this.stepDownLeader(leadershipLost());
    this.election?.cancel();
    if (this.stateValue !== 'Follower') {
      this.setState('Follower');
      this.resetTimer(this.config.heartbeatTimeout);
    }
  }

  // ---- commit and apply ---------------------------------------------------

  private setCommitIndex(index: number): void {
    this.commitIndex = index;
    if (this.latest.index <= index) this.committed = { c: cloneConfiguration(this.latest.c), index: this.latest.index };
    this.applyUpTo(index);
    this.emit('progress');
  }

  private applyUpTo(index: number): void {
    const ls = this.leaderState;
    while (this.lastApplied < index) {
      const i = this.lastApplied + 1;
      const log = this.logs.getLog(i);
      if (!log) throw new Error(`log ${i} missing while applying (first ${this.logs.firstIndex()})`);
      let result: unknown;
      if (log.type === LogType.Command) result = this.fsm.apply(log);
      else if (log.type === LogType.Configuration && log.data)
        this.appliedConfig = { c: decodeConfiguration(log.data), index: i };
      this.lastApplied = i;
      this.emit('applied', log, result);
      const w = ls?.waiting.get(i);
      if (w) {
        ls!.waiting.delete(i);
        w.resolve(result);
      }
    }
    // A leader that committed its own removal hands over (hashicorp steps down here too).
    if (ls && this.leaderState === ls && !this.committed.c.servers.some((s) => s.id === this.config.localID)) {
      this.trace('removed from the configuration: stepping down');
      this.stepDownLeader(leadershipLost());
      this.setState('Follower');
      this.setLeader(undefined);
      this.resetTimer(this.config.heartbeatTimeout);
    }
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.stateValue === 'Shutdown') return;
    if (this.lastApplied - this.snap.index < this.config.snapshotThreshold) return;
    this.snapshotting = true;
    try {
      this.snapshot();
    } catch (err) {
      this.trace(`snapshot failed: ${(err as Error).message}`);
    } finally {
      this.snapshotting = false;
    }
  }

  /** Checks the snapshot threshold now (the CLI and tests call this instead of waiting for the interval). */
  checkSnapshot(): void {
    this.maybeSnapshot();
  }

  // ---- helpers ------------------------------------------------------------

  /** The term of entry `index`, from the log or the snapshot; `undefined` when compacted away or absent. */
  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    if (index === this.snap.index) return this.snap.term;
    return this.logs.getLog(index)?.term;
  }

  lastIndex(): number {
    return Math.max(this.logs.lastIndex(), this.snap.index);
  }

  lastEntry(): { index: number; term: number } {
    const li = this.logs.lastIndex();
    if (li >= this.snap.index && li > 0) return { index: li, term: this.logs.getLog(li)!.term };
    return { ...this.snap };
  }

  lastSnapshot(): { index: number; term: number } {
    return { ...this.snap };
  }

  setTerm(term: number): void {
    this.term = term;
    this.stable.set('CurrentTerm', String(term));
  }

  /** Whom this node voted for in `term`, if anyone. */
  votedIn(term: number): string | undefined {
    return this.voteTerm === term ? this.voteFor : undefined;
  }

  recordVote(term: number, candidate: string): void {
    this.voteTerm = term;
    this.voteFor = candidate;
    this.stable.set('LastVote', JSON.stringify({ term, candidate }));
  }

  setState(s: RaftState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.emit('state', s, this.term);
    this.emit('progress');
  }

  setLeader(l: { id: ServerID; address: ServerAddress } | undefined): void {
    if (l?.id === this.leaderValue?.id && l?.address === this.leaderValue?.address) return;
    this.leaderValue = l;
    this.emit('leader', l?.id, this.term);
  }

  private idOf(addr: ServerAddress): ServerID {
    return this.latest.c.servers.find((s) => s.address === addr)?.id ?? '';
  }

  private timeoutNowReq(): TimeoutNowRequest {
    return timeoutNowRequest({ id: this.config.localID, addr: this.trans.localAddr() });
  }

  /** Waits until `pred()` holds, re-checking on every `progress` event; false on timeout or shutdown. */
  waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (pred()) finish(true);
        else if (this.stateValue === 'Shutdown') finish(false);
      };
      const finish = (v: boolean): void => {
        clearTimeout(timer);
        this.off('progress', check);
        resolve(v);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.on('progress', check);
    });
  }

  get shutdownSignal(): AbortSignal {
    return this.stop.signal;
  }

  trace(msg: string): void {
    this.config.log?.(`[${this.config.localID} t${this.term} ${this.stateValue}] ${msg}`);
  }

  private restoreState(): void {
    this.term = Number(this.stable.get('CurrentTerm') ?? 0);
    const vote = this.stable.get('LastVote');
    if (vote) {
      const v = JSON.parse(vote) as { term: number; candidate: string };
      this.voteTerm = v.term;
      this.voteFor = v.candidate;
    }
    const meta = this.snapshots.latest();
    if (meta) {
      this.fsm.restore(this.snapshots.read(meta.id));
      this.snap = { index: meta.index, term: meta.term };
      this.lastApplied = this.commitIndex = meta.index;
      const cfg = { c: meta.configuration, index: meta.configurationIndex };
      this.latest = this.committed = this.appliedConfig = cfg;
    }
    const first = Math.max(this.logs.firstIndex(), meta ? meta.index + 1 : 1);
    for (let i = first; i > 0 && i <= this.logs.lastIndex(); i++) {
      const l = this.logs.getLog(i);
      if (l?.type === LogType.Configuration && l.data) this.latest = { c: decodeConfiguration(l.data), index: i };
    }
  }
}
