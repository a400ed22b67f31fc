//go:build raft17

package main

// hashicorp/raft 1.7.3: everything 1.5.0 has, plus RequestPreVote (type 4)
// and NetworkTransportConfig.MsgpackUseNewTimeFormat.

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

const raftVersion = "1.7.3"

func newTransportWith(bind string, maxPool, maxInFlight int, newTimeFormat bool) (*raft.NetworkTransport, error) {
	return raft.NewTCPTransportWithConfig(bind, nil, &raft.NetworkTransportConfig{
		MaxPool:                 maxPool,
		MaxRPCsInFlight:         maxInFlight,
		Timeout:                 rpcTimeout,
		MsgpackUseNewTimeFormat: newTimeFormat,
		Logger:                  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logOutput()}),
	})
}

func headerIDAddr(h *raft.RPCHeader) (id, addr []byte) { return h.ID, h.Addr }

func setHeaderIDAddr(h *raft.RPCHeader, id, addr []byte) { h.ID, h.Addr = id, addr }

func appendedAt(l *raft.Log) (time.Time, bool) { return l.AppendedAt, true }

func setAppendedAt(l *raft.Log, t time.Time) { l.AppendedAt = t }

// respondNewer answers RequestPreVote by the rules: Term + 1, Granted.
func respondNewer(rpc raft.RPC) bool {
	req, ok := rpc.Command.(*raft.RequestPreVoteRequest)
	if !ok {
		return false
	}
	rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: req.RPCHeader, Term: req.Term + 1, Granted: true}, nil)
	return true
}

func describeNewer(rpc raft.RPC) (string, bool) {
	if _, ok := rpc.Command.(*raft.RequestPreVoteRequest); ok {
		return "RequestPreVote", true
	}
	return "", false
}

func preVote(c *client, pv int, term uint64) (uint64, bool, int, error) {
	req := &raft.RequestPreVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)}, Term: term, LastLogIndex: 7, LastLogTerm: term - 1}
	setHeaderIDAddr(&req.RPCHeader, []byte(c.id), []byte("go-leader:8300"))
	var resp raft.RequestPreVoteResponse
	err := c.trans.RequestPreVote(c.id, c.target, req, &resp)
	return resp.Term, resp.Granted, int(resp.ProtocolVersion), err
}

// pipelineWindow is the MaxRPCsInFlight the transport was built with (0 means DefaultMaxRPCsInFlight).
func pipelineWindow() int {
	if maxInFlightFlag == 0 {
		return raft.DefaultMaxRPCsInFlight
	}
	return maxInFlightFlag
}
