package main

// Scenarios and reports for the protocol additions after 1.1.2 (RPCHeader
// ID/Addr, Log.AppendedAt, RequestPreVote, MaxRPCsInFlight). They go through
// the per-version compat_raft*.go functions, so the same code builds against
// every version; on a version without a feature the compat function is a
// no-op and the TypeScript side checks that nothing arrived.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Transport knobs set by the -max-inflight and -new-time-format flags.
var (
	maxInFlightFlag   int
	newTimeFormatFlag bool
)

// appendedAtInstants are the AppendedAt values the appendedat scenario sends,
// in order; go-peer.ts names the same list (APPENDED_AT_INSTANTS).
func appendedAtInstants() []time.Time {
	return []time.Time{
		time.Unix(1764744000, 123456789).UTC(),
		{},
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(1764744000, 0).UTC(),
		time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC),
	}
}

// scenarioHeader sends every RPC type with RPCHeader ID/Addr set (a no-op on 1.1.2).
func scenarioHeader(c *client) string {
	id, addr := []byte("go-node-1"), []byte("go-node-1:8300")
	req := appendReq(3, 5, 1, []*raft.Log{entry(2, 5, raft.LogCommand, []byte("hdr"), nil)})
	setHeaderIDAddr(&req.RPCHeader, id, addr)
	c.append("header-append", req, true, false)
	vote := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 5, Candidate: []byte("cand")}
	setHeaderIDAddr(&vote.RPCHeader, id, addr)
	c.vote("header-vote", vote)
	tn := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}}
	setHeaderIDAddr(&tn.RPCHeader, id, addr)
	var tr raft.TimeoutNowResponse
	check(c.trans.TimeoutNow(c.id, c.target, tn, &tr) == nil, "header-timeoutnow failed")
	return fmt.Sprintf("AppendEntries, RequestVote, TimeoutNow with ID %q Addr %q (raft %s)", id, addr, raftVersion)
}

// scenarioAppendedAt sends one entry per instant in appendedAtInstants.
func scenarioAppendedAt(c *client) string {
	var es []*raft.Log
	for i, t := range appendedAtInstants() {
		e := entry(uint64(i+2), 6, raft.LogCommand, []byte{byte(i)}, nil)
		setAppendedAt(e, t)
		es = append(es, e)
	}
	c.append("appendedat", appendReq(3, 6, 1, es), true, false)
	return fmt.Sprintf("%d entries with AppendedAt (raft %s, new time format %v)", len(es), raftVersion, newTimeFormatFlag)
}

// scenarioPreVote calls RequestPreVote (1.7+ only; fails on older versions).
func scenarioPreVote(c *client) string {
	for pv := 0; pv <= 3; pv++ {
		term, granted, gotPV, err := preVote(c, pv, uint64(40+pv))
		check(err == nil, "RequestPreVote pv%d: %v", pv, err)
		check(term == uint64(41+pv) && granted && gotPV == pv, "RequestPreVote pv%d: term %d granted %v pv %d", pv, term, granted, gotPV)
	}
	return "4 RequestPreVote, ProtocolVersion 0..3, term + 1, granted"
}

// scenarioPipelineRefused expects AppendEntriesPipeline to refuse (MaxRPCsInFlight < 2).
func scenarioPipelineRefused(c *client) string {
	_, err := c.trans.AppendEntriesPipeline(c.id, c.target)
	check(errors.Is(err, raft.ErrPipelineReplicationNotSupported), "AppendEntriesPipeline: %v, want ErrPipelineReplicationNotSupported", err)
	c.append("sync-after-refusal", appendReq(3, 7, 1, []*raft.Log{entry(2, 7, raft.LogCommand, []byte("s"), nil)}), true, false)
	return fmt.Sprintf("pipeline refused with MaxRPCsInFlight %d; synchronous AppendEntries still works", maxInFlightFlag)
}

// sawReport is one `SAW {json}` line of `serve -report`: what Go decoded.
type sawReport struct {
	Type            string       `json:"type"`
	Heartbeat       bool         `json:"heartbeat"`
	ProtocolVersion int          `json:"protocolVersion"`
	ID              *string      `json:"id"`
	Addr            *string      `json:"addr"`
	Leader          *string      `json:"leader"`
	AppendedAt      []sawInstant `json:"appendedAt,omitempty"`
}

type sawInstant struct {
	Zero     bool   `json:"zero"`
	UnixNano string `json:"unixNano"`
	RFC3339  string `json:"rfc3339"`
}

var reportMu sync.Mutex

func strOrNil(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// unixNanoString is t's nanoseconds since the epoch as a decimal, exact for
// any year (UnixNano overflows outside 1678..2262).
func unixNanoString(t time.Time) string {
	s := t.Unix()
	ns := int64(t.Nanosecond())
	if s < 0 && ns > 0 {
		// -1.5 s is -2 s + 500000000 ns: print the exact decimal of s*1e9 + ns.
		return fmt.Sprintf("-%d%09d", -(s + 1), 1_000_000_000-ns)
	}
	if s < 0 {
		return strconv.FormatInt(s, 10) + "000000000"
	}
	return fmt.Sprintf("%d%09d", s, ns)
}

// report prints what Go decoded for rpc (before it is answered).
func report(rpc raft.RPC, viaHeartbeatHandler bool) {
	r := sawReport{Heartbeat: viaHeartbeatHandler}
	var h *raft.RPCHeader
	switch req := rpc.Command.(type) {
	case *raft.AppendEntriesRequest:
		r.Type, h, r.Leader = "AppendEntries", &req.RPCHeader, strOrNil(req.Leader)
		for _, e := range req.Entries {
			if t, ok := appendedAt(e); ok {
				r.AppendedAt = append(r.AppendedAt, sawInstant{Zero: t.IsZero(), UnixNano: unixNanoString(t), RFC3339: t.UTC().Format(time.RFC3339Nano)})
			}
		}
	case *raft.RequestVoteRequest:
		r.Type, h = "RequestVote", &req.RPCHeader
	case *raft.InstallSnapshotRequest:
		r.Type, h = "InstallSnapshot", &req.RPCHeader
	case *raft.TimeoutNowRequest:
		r.Type, h = "TimeoutNow", &req.RPCHeader
	default:
		if name, ok := describeNewer(rpc); ok {
			r.Type = name
			if wh, ok := rpc.Command.(interface{ GetRPCHeader() raft.RPCHeader }); ok {
				hh := wh.GetRPCHeader()
				h = &hh
			}
		}
	}
	if h != nil {
		r.ProtocolVersion = int(h.ProtocolVersion)
		id, addr := headerIDAddr(h)
		r.ID, r.Addr = strOrNil(id), strOrNil(addr)
	}
	out, _ := json.Marshal(r)
	reportMu.Lock()
	fmt.Fprintf(os.Stdout, "SAW %s\n", out)
	reportMu.Unlock()
}
