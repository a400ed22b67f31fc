//go:build !raft15 && !raft17

package main

// hashicorp/raft 1.1.2 (Debian): no RPCHeader ID/Addr, no Log.AppendedAt, no
// MaxRPCsInFlight (the pipeline depth is the fixed rpcMaxPipeline = 128), no
// pre-vote, no choice of time format.

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

const raftVersion = "1.1.2"

// newTransportWith ignores maxInFlight and newTimeFormat: 1.1.2 has neither knob.
func newTransportWith(bind string, maxPool, maxInFlight int, newTimeFormat bool) (*raft.NetworkTransport, error) {
	return raft.NewTCPTransport(bind, nil, maxPool, rpcTimeout, logOutput())
}

func headerIDAddr(h *raft.RPCHeader) (id, addr []byte) { return nil, nil }

func setHeaderIDAddr(h *raft.RPCHeader, id, addr []byte) {}

func appendedAt(l *raft.Log) (time.Time, bool) { return time.Time{}, false }

func setAppendedAt(l *raft.Log, t time.Time) {}

// respondNewer answers the RPC types this version adds; 1.1.2 adds none.
func respondNewer(rpc raft.RPC) bool { return false }

func describeNewer(rpc raft.RPC) (string, bool) { return "", false }

var errNoPreVote = errors.New("raft 1.1.2 has no RequestPreVote")

func preVote(c *client, pv int, term uint64) (uint64, bool, int, error) {
	return 0, false, 0, errNoPreVote
}

// pipelineWindow is rpcMaxPipeline in net_transport.go 1.1.2 (fixed).
func pipelineWindow() int { return 128 }
