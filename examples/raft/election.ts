/**
 * Elections: pre-vote, then a real vote (hashicorp's `preElectSelf` and
 * `electSelf`), and the voter's side of both. A pre-vote asks "would you vote
 * for me in the next term?" without anyone changing term, so a node cut off
 * from the cluster cannot disrupt it on its return.
 */
import {
  isTransportError,
  preVoteRequest,
  preVoteResponse,
  type RequestPreVoteRPC,
  type RequestVoteRPC,
  voteRequest,
  voteResponse,
} from '../../src/index.ts';
import { inConfiguration, isVoter, voters } from './configuration.ts';
import type { Raft } from './raft.ts';

const textDecoder = new TextDecoder();

export class Election {
  /** Bumped by every new election and by `cancel()`, so stale vote answers are ignored. */
  private round = 0;

  constructor(private readonly raft: Raft) {}

  cancel(): void {
    this.round++;
  }

  /** One election attempt; `transfer` skips the pre-vote and tells voters to ignore their known leader. */
  async run(transfer: boolean): Promise<void> {
    const raft = this.raft;
    const round = ++this.round;
    const still = (): boolean => this.round === round && raft.state() === 'Candidate';
    const vs = voters(raft.latest.c);
    const quorum = Math.floor(vs.length / 2) + 1;
    const last = raft.lastEntry();
    const me = raft.config.localID;
    const addr = raft.trans.localAddr();
    const opts = { timeout: raft.config.rpcTimeout, signal: raft.shutdownSignal };

    if (raft.config.preVote && !transfer) {
      const term = raft.currentTerm() + 1;
      let granted = 0;
      const won = await new Promise<boolean>((resolve) => {
        let pending = vs.length;
        const count = (ok: boolean): void => {
          if (ok) granted++;
          pending--;
          if (granted >= quorum) resolve(true);
          else if (pending === 0) resolve(false);
        };
        for (const s of vs) {
          if (s.id === me) {
            count(true);
            continue;
          }
          const req = preVoteRequest({ term, lastLogIndex: last.index, lastLogTerm: last.term, id: me, addr });
          raft.trans.requestPreVote(s.id, s.address, req, opts).then(
            (resp) => {
              if (resp.term > raft.currentTerm() && resp.term > term) raft.observeTerm(resp.term);
              count(resp.granted);
            },
            // A peer older than raft 1.7 has no pre-vote (the transport reports
            // PreVoteNotSupportedError, ERR_NOT_SUPPORTED): count it as granted, as
            // hashicorp 1.7 counts an "unexpected command" answer. Any other failure
            // (unreachable, shutting down, timed out) is not a grant.
            (err) => count(isTransportError(err, 'ERR_NOT_SUPPORTED')),
          );
        }
      });
      if (!won || !still()) {
        if (still()) raft.trace(`pre-vote for term ${term} lost (${granted}/${vs.length})`);
        return;
      }
    }

    const term = raft.currentTerm() + 1;
    raft.setTerm(term);
    raft.recordVote(term, me);
    raft.resetTimer(raft.config.electionTimeout);
    raft.trace(`election for term ${term}`);
    let granted = 0;
    const tally = (): void => {
      granted++;
      if (granted >= quorum && still() && raft.currentTerm() === term) raft.becomeLeader();
    };
    for (const s of vs) {
      if (s.id === me) {
        tally();
        continue;
      }
      const req = voteRequest({
        term,
        candidate: addr,
        id: me,
        lastLogIndex: last.index,
        lastLogTerm: last.term,
        leadershipTransfer: transfer,
      });
      raft.trans.requestVote(s.id, s.address, req, opts).then(
        (resp) => {
          if (resp.term > raft.currentTerm()) {
            raft.observeTerm(resp.term);
            return;
          }
          if (resp.granted && still() && raft.currentTerm() === term) tally();
        },
        () => {},
      );
    }
  }

  /** The voter's side of RequestVote (hashicorp's `requestVote`). */
  onRequestVote(rpc: RequestVoteRPC): void {
    const raft = this.raft;
    const req = rpc.command;
    const candidateAddr = textDecoder.decode(
      req.rpcHeader.addr?.length ? req.rpcHeader.addr : (req.candidate ?? new Uint8Array()),
    );
    const candidateID = req.rpcHeader.id ? textDecoder.decode(req.rpcHeader.id) : '';
    const reply = (granted: boolean): void =>
      rpc.respond(voteResponse({ term: raft.currentTerm(), granted, id: raft.config.localID, addr: raft.trans.localAddr() }));
    if (raft.state() === 'Shutdown') {
      rpc.respond(null, 'raft is shutdown');
      return;
    }
    // Servers outside the configuration are ignored (an empty one is a cluster bootstrapping).
    const known = raft.latest.c.servers.length > 0;
    if (candidateID && known && !inConfiguration(raft.latest.c, candidateID)) {
      reply(false);
      return;
    }
    // A node that hears from a leader ignores candidates, unless it is a leadership transfer.
    const leader = raft.leader();
    if (leader && leader.address !== candidateAddr && !req.leadershipTransfer) {
      reply(false);
      return;
    }
    if (req.term < raft.currentTerm()) {
      reply(false);
      return;
    }
    if (req.term > raft.currentTerm()) {
      raft.setTerm(req.term);
      raft.becomeFollower();
    }
    // A non-voter (say, a voter since demoted) gets no vote, but its higher
    // term is adopted first, as hashicorp 1.7 does (hashicorp/raft#526): else
    // it could keep the cluster from making progress.
    if (candidateID && known && !isVoter(raft.latest.c, candidateID)) {
      reply(false);
      return;
    }
    const voted = raft.votedIn(req.term);
    if (voted !== undefined) {
      reply(voted === (candidateID || candidateAddr));
      return;
    }
    const last = raft.lastEntry();
    if (last.term > req.lastLogTerm || (last.term === req.lastLogTerm && last.index > req.lastLogIndex)) {
      reply(false);
      return;
    }
    raft.recordVote(req.term, candidateID || candidateAddr);
    raft.lastContact = Date.now();
    raft.resetTimer(raft.config.heartbeatTimeout);
    reply(true);
  }

  /** The voter's side of RequestPreVote: the same checks, and nothing changes. */
  onRequestPreVote(rpc: RequestPreVoteRPC): void {
    const raft = this.raft;
    const req = rpc.command;
    const reply = (granted: boolean): void =>
      rpc.respond(preVoteResponse({ term: raft.currentTerm(), granted, id: raft.config.localID, addr: raft.trans.localAddr() }));
    if (raft.state() === 'Shutdown') {
      rpc.respond(null, 'raft is shutdown');
      return;
    }
    const candidateID = req.rpcHeader.id ? textDecoder.decode(req.rpcHeader.id) : '';
    const known = raft.latest.c.servers.length > 0;
    if (candidateID && known && !inConfiguration(raft.latest.c, candidateID)) {
      reply(false);
      return;
    }
    const leader = raft.leader();
    if (leader && Date.now() - raft.lastContact < raft.config.heartbeatTimeout) {
      reply(false);
      return;
    }
    if (raft.state() === 'Leader') {
      reply(false);
      return;
    }
    if (req.term < raft.currentTerm()) {
      reply(false);
      return;
    }
    if (candidateID && known && !isVoter(raft.latest.c, candidateID)) {
      reply(false);
      return;
    }
    const last = raft.lastEntry();
    if (last.term > req.lastLogTerm || (last.term === req.lastLogTerm && last.index > req.lastLogIndex)) {
      reply(false);
      return;
    }
    reply(true);
  }
}
