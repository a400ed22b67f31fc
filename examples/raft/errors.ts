/**
 * Why a Raft call failed, with stable codes like the transport's, so a client
 * can tell "retry elsewhere" (not leader, leadership lost) from "give up".
 */
export const RaftErrorCode = {
  NotLeader: 'ERR_NOT_LEADER',
  LeadershipLost: 'ERR_LEADERSHIP_LOST',
  LeadershipTransferInProgress: 'ERR_LEADERSHIP_TRANSFER_IN_PROGRESS',
  Shutdown: 'ERR_RAFT_SHUTDOWN',
  Timeout: 'ERR_ENQUEUE_TIMEOUT',
  ConfigurationChangePending: 'ERR_CONFIGURATION_CHANGE_PENDING',
  Unknown: 'ERR_UNKNOWN_SERVER',
  NothingNew: 'ERR_NOTHING_NEW_TO_SNAPSHOT',
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  override readonly name = 'RaftError';
  constructor(
    readonly code: RaftErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const notLeader = (): RaftError => new RaftError(RaftErrorCode.NotLeader, 'node is not the leader');
export const leadershipLost = (): RaftError =>
  new RaftError(RaftErrorCode.LeadershipLost, 'leadership lost while committing log');
export const raftShutdown = (): RaftError => new RaftError(RaftErrorCode.Shutdown, 'raft is shutdown');
