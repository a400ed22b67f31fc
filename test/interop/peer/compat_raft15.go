//go:build raft15

package main

// hashicorp/raft 1.5.0: RPCHeader ID/Addr, Log.AppendedAt (binary time only),
// NetworkTransportConfig.MaxRPCsInFlight; no pre-vote.

import (
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

const raftVersion = "1.5.0"

// newTransportWith ignores newTimeFormat: 1.5.0 always writes time.MarshalBinary.
func newTransportWith(bind string, maxPool, maxInFlight int, newTimeFormat bool) (*raft.NetworkTransport, error) {
	return raft.NewTCPTransportWithConfig(bind, nil, &raft.NetworkTransportConfig{
		MaxPool:         maxPool,
		MaxRPCsInFlight: maxInFlight,
		Timeout:         rpcTimeout,
		Logger:          hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logOutput()}),
	})
}

func headerIDAddr(h *raft.RPCHeader) (id, addr []byte) { return h.ID, h.Addr }

func setHeaderIDAddr(h *raft.RPCHeader, id, addr []byte) { h.ID, h.Addr = id, addr }

func appendedAt(l *raft.Log) (time.Time, bool) { return l.AppendedAt, true }

func setAppendedAt(l *raft.Log, t time.Time) { l.AppendedAt = t }

func respondNewer(rpc raft.RPC) bool { return false }

func describeNewer(rpc raft.RPC) (string, bool) { return "", false }

var errNoPreVote = errors.New("raft 1.5.0 has no RequestPreVote")

func preVote(c *client, pv int, term uint64) (uint64, bool, int, error) {
	return 0, false, 0, errNoPreVote
}

// pipelineWindow is the MaxRPCsInFlight the transport was built with (0 means DefaultMaxRPCsInFlight).
func pipelineWindow() int {
	if maxInFlightFlag == 0 {
		return raft.DefaultMaxRPCsInFlight
	}
	return maxInFlightFlag
}
