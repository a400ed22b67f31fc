package main

// Client scenarios: each drives a server that follows the responder rules and
// checks every answer. A failed check panics with a failure, which the
// scenario runner turns into "FAIL <scenario>: ..." and exit status 1.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

type failure struct{ msg string }

func failf(format string, a ...interface{}) {
	panic(failure{fmt.Sprintf(format, a...)})
}

func check(cond bool, format string, a ...interface{}) {
	if !cond {
		failf(format, a...)
	}
}

// guard runs f, turning a failure panic into an error (for goroutines).
func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if fl, ok := r.(failure); ok {
				err = errors.New(fl.msg)
				return
			}
			panic(r)
		}
	}()
	f()
	return nil
}

type client struct {
	target         raft.ServerAddress
	id             raft.ServerID
	expectFastpath bool
	n              int
	trans          *raft.NetworkTransport
}

var leaderAddr = []byte("go-leader:8300")

func entry(index, term uint64, typ raft.LogType, data, ext []byte) *raft.Log {
	return &raft.Log{Index: index, Term: term, Type: typ, Data: data, Extensions: ext}
}

// appendReq builds a non-heartbeat AppendEntries with the crc convention:
// LeaderCommitIndex = entriesCRC(entries), so a rule-following server answers Success.
func appendReq(pv int, term, prev uint64, entries []*raft.Log) *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		Term:              term,
		Leader:            leaderAddr,
		PrevLogEntry:      prev,
		PrevLogTerm:       term,
		Entries:           entries,
		LeaderCommitIndex: uint64(entriesCRC(entries)),
	}
}

func payloadBytes(entries []*raft.Log) int {
	n := 0
	for _, e := range entries {
		n += len(e.Data)
	}
	return n
}

func checkAppendResp(what string, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, wantSuccess, wantNRB bool) {
	wantLast := req.PrevLogEntry + uint64(len(req.Entries))
	check(resp.Term == req.Term, "%s: Term = %d, want %d", what, resp.Term, req.Term)
	check(resp.LastLog == wantLast, "%s: LastLog = %d, want %d", what, resp.LastLog, wantLast)
	check(resp.Success == wantSuccess, "%s: Success = %v, want %v (crc convention: LeaderCommitIndex %d, entries crc %d)",
		what, resp.Success, wantSuccess, req.LeaderCommitIndex, entriesCRC(req.Entries))
	check(resp.NoRetryBackoff == wantNRB, "%s: NoRetryBackoff = %v, want %v", what, resp.NoRetryBackoff, wantNRB)
	check(resp.ProtocolVersion == req.ProtocolVersion, "%s: ProtocolVersion = %d, want %d (echo)",
		what, resp.ProtocolVersion, req.ProtocolVersion)
}

func (c *client) append(what string, req *raft.AppendEntriesRequest, wantSuccess, wantNRB bool) {
	var resp raft.AppendEntriesResponse
	err := c.trans.AppendEntries(c.id, c.target, req, &resp)
	check(err == nil, "%s: AppendEntries error: %v", what, err)
	checkAppendResp(what, req, &resp, wantSuccess, wantNRB)
}

func (c *client) vote(what string, req *raft.RequestVoteRequest) {
	var resp raft.RequestVoteResponse
	err := c.trans.RequestVote(c.id, c.target, req, &resp)
	check(err == nil, "%s: RequestVote error: %v", what, err)
	check(resp.Term == req.Term+1, "%s: Term = %d, want %d", what, resp.Term, req.Term+1)
	check(resp.Granted == req.LeadershipTransfer, "%s: Granted = %v, want %v", what, resp.Granted, req.LeadershipTransfer)
	// bytes.Equal treats nil and empty alike; go-msgpack 0.5.5 decodes both to nil anyway.
	check(bytes.Equal(resp.Peers, req.Candidate), "%s: Peers = %x, want %x (echo of Candidate)", what, resp.Peers, req.Candidate)
	check(resp.ProtocolVersion == req.ProtocolVersion, "%s: ProtocolVersion = %d, want %d", what, resp.ProtocolVersion, req.ProtocolVersion)
}

// chunkReader hands out data in odd-sized pieces, so the stream is not one write.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := r.chunk
	if n > len(p) {
		n = len(p)
	}
	if n > len(r.data) {
		n = len(r.data)
	}
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func (c *client) snapshot(what string, req *raft.InstallSnapshotRequest, data []byte) {
	req.Size = int64(len(data))
	var resp raft.InstallSnapshotResponse
	err := c.trans.InstallSnapshot(c.id, c.target, req, &resp, &chunkReader{data: data, chunk: 7919})
	check(err == nil, "%s: InstallSnapshot error: %v", what, err)
	want := uint64(crc32IEEE(data))
	check(resp.Term == want, "%s: Term = %d, want crc32 %d of %d bytes", what, resp.Term, want, len(data))
	check(resp.Success, "%s: Success = false (server read fewer than Size=%d bytes)", what, len(data))
	check(resp.ProtocolVersion == req.ProtocolVersion, "%s: ProtocolVersion = %d, want %d", what, resp.ProtocolVersion, req.ProtocolVersion)
}

func (c *client) timeoutNow(what string, pv int) {
	req := &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)}}
	var resp raft.TimeoutNowResponse
	err := c.trans.TimeoutNow(c.id, c.target, req, &resp)
	check(err == nil, "%s: TimeoutNow error: %v", what, err)
	check(resp.ProtocolVersion == req.ProtocolVersion, "%s: ProtocolVersion = %d, want %d (echo)", what, resp.ProtocolVersion, pv)
}

func (c *client) heartbeat(what string, pv int, term uint64) {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		Term:      term,
		Leader:    leaderAddr,
	}
	c.append(what, req, true, c.expectFastpath)
}

func all256() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i := range b {
		r[len(b)-1-i] = b[i]
	}
	return r
}

// ---- scenarios ----

func scenarioAppend(c *client) string {
	count, bytesSent := 0, 0
	send := func(what string, req *raft.AppendEntriesRequest, wantSuccess bool) {
		c.append(what, req, wantSuccess, false)
		count++
		bytesSent += payloadBytes(req.Entries)
	}
	send("all-256", appendReq(3, 7, 100, []*raft.Log{entry(101, 7, raft.LogCommand, all256(), nil)}), true)
	send("nil-vs-empty", appendReq(3, 7, 101, []*raft.Log{
		entry(102, 7, raft.LogCommand, nil, nil),
		entry(103, 7, raft.LogCommand, []byte{}, []byte{}),
		entry(104, 7, raft.LogNoop, nil, []byte("ext")),
		entry(105, 7, raft.LogCommand, []byte("d"), reversed(all256())),
	}), true)
	// One entry per LogType, with Data lengths across every msgpack raw-string width boundary.
	lengths := []int{0, 1, 31, 32, 255, 256, 65535, 65536, 70000}
	var typed []*raft.Log
	for i, l := range lengths {
		typed = append(typed, entry(uint64(106+i), 8, raft.LogType(i%6), pseudoRandomBytes(l, uint32(i+1)), pseudoRandomBytes(i*3, uint32(100+i))))
	}
	send("every-type-and-width", appendReq(2, 8, 105, typed), true)
	send("1MiB-entry", appendReq(1, 8, 200, []*raft.Log{entry(201, 8, raft.LogCommand, pseudoRandomBytes(1<<20, 42), nil)}), true)
	var batch []*raft.Log
	for i := 0; i < 500; i++ {
		batch = append(batch, entry(uint64(202+i), 9, raft.LogCommand, pseudoRandomBytes(i%97, uint32(i+7)), nil))
	}
	send("batch-500", appendReq(0, 9, 201, batch), true)
	send("no-entries-nil", appendReq(3, 9, 10, nil), true)
	send("no-entries-empty", appendReq(3, 9, 11, []*raft.Log{}), true)
	bad := appendReq(3, 10, 300, []*raft.Log{entry(301, 10, raft.LogCommand, all256(), []byte("x"))})
	bad.LeaderCommitIndex++
	send("crc-mismatch-control", bad, false)
	return fmt.Sprintf("%d AppendEntries, %d payload bytes, all 256 byte values, nil/empty data, extensions", count, bytesSent)
}

func scenarioVote(c *client) string {
	cases := []*raft.RequestVoteRequest{
		{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 1, Candidate: []byte("node-a:8300"), LastLogIndex: 10, LastLogTerm: 1, LeadershipTransfer: false},
		{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 41, Candidate: all256(), LastLogIndex: 1000, LastLogTerm: 40, LeadershipTransfer: true},
		{RPCHeader: raft.RPCHeader{ProtocolVersion: 0}, Term: 2, Candidate: nil},
		{RPCHeader: raft.RPCHeader{ProtocolVersion: 1}, Term: 3, Candidate: []byte{}, LeadershipTransfer: true},
		{RPCHeader: raft.RPCHeader{ProtocolVersion: 2}, Term: 0, Candidate: pseudoRandomBytes(70000, 5)},
	}
	for i, req := range cases {
		c.vote(fmt.Sprintf("vote#%d", i), req)
	}
	return fmt.Sprintf("%d RequestVote, Granted follows LeadershipTransfer, Candidate bytes echoed", len(cases))
}

func scenarioSnapshot(c *client) string {
	const size = 3 << 20
	data := pseudoRandomBytes(size, 2024)
	c.snapshot("snapshot-3MiB", &raft.InstallSnapshotRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, SnapshotVersion: 1, Term: 5, Leader: leaderAddr,
		LastLogIndex: 1234, LastLogTerm: 5, Configuration: []byte("cfg"), ConfigurationIndex: 1000,
	}, data)
	c.snapshot("snapshot-empty", &raft.InstallSnapshotRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, SnapshotVersion: 1, Term: 6, Leader: leaderAddr,
	}, nil)
	c.snapshot("snapshot-5B", &raft.InstallSnapshotRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: 0}, SnapshotVersion: 0, Term: 7, Leader: leaderAddr,
		Peers: []byte("peers"), Configuration: all256(), ConfigurationIndex: 3,
	}, []byte("hello"))
	return fmt.Sprintf("3 InstallSnapshot (%d, 0 and 5 bytes), crc32 verified", size)
}

func scenarioTimeoutNow(c *client) string {
	for pv := 0; pv <= 3; pv++ {
		c.timeoutNow(fmt.Sprintf("timeoutnow-pv%d", pv), pv)
	}
	return "4 TimeoutNow, ProtocolVersion 0..3 echoed"
}

func scenarioRemoteError(c *client) string {
	req := appendReq(3, 666, 1, []*raft.Log{entry(2, 666, raft.LogCommand, []byte("x"), nil)})
	var resp raft.AppendEntriesResponse
	err := c.trans.AppendEntries(c.id, c.target, req, &resp)
	check(err != nil && err.Error() == "go says no", "Term 666: got error %v, want \"go says no\"", err)
	check(reflect.DeepEqual(resp, raft.AppendEntriesResponse{}), "Term 666: response not zero: %+v", resp)
	// The connection went back to the pool; the next call must work.
	c.append("after-remote-error", appendReq(3, 4, 5, []*raft.Log{entry(6, 4, raft.LogCommand, []byte("ok"), nil)}), true, false)

	// In a pipeline the error lands on its own future, in order, and later requests still succeed.
	p, err := c.trans.AppendEntriesPipeline(c.id, c.target)
	check(err == nil, "AppendEntriesPipeline: %v", err)
	defer p.Close()
	reqs := []*raft.AppendEntriesRequest{
		appendReq(3, 4, 10, []*raft.Log{entry(11, 4, raft.LogCommand, []byte("a"), nil)}),
		appendReq(3, 666, 11, []*raft.Log{entry(12, 666, raft.LogCommand, []byte("b"), nil)}),
		appendReq(3, 4, 12, []*raft.Log{entry(13, 4, raft.LogCommand, []byte("c"), nil)}),
	}
	// Consume while sending: from 1.5 on the default depth (MaxRPCsInFlight 2)
	// blocks the third send until the first future is taken.
	errCh := make(chan error, 1)
	go func() {
		errCh <- guard(func() {
			for i, r := range reqs {
				f := <-p.Consumer()
				check(f.Request() == r, "pipeline future #%d out of order", i)
				err := f.Error()
				if r.Term == 666 {
					check(err != nil && err.Error() == "go says no", "pipeline #%d: error %v, want \"go says no\"", i, err)
				} else {
					check(err == nil, "pipeline #%d: error %v", i, err)
					checkAppendResp(fmt.Sprintf("pipeline #%d", i), r, f.Response(), true, false)
				}
			}
		})
	}()
	for i, r := range reqs {
		_, err := p.AppendEntries(r, &raft.AppendEntriesResponse{})
		check(err == nil, "pipeline send #%d: %v", i, err)
	}
	if err := <-errCh; err != nil {
		failf("%v", err)
	}
	return "error \"go says no\" with zero response, connection reused, in-order error in a pipeline"
}

func scenarioHeartbeat(c *client) string {
	n := c.n
	if n <= 0 {
		n = 100
	}
	for i := 0; i < n; i++ {
		c.heartbeat(fmt.Sprintf("heartbeat#%d", i), i%4, uint64(i+1))
	}
	// Not a heartbeat (nil Leader): always through the consumer, never fast path.
	probe := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 7}
	c.append("nil-leader-probe", probe, true, false)
	return fmt.Sprintf("%d heartbeats, NoRetryBackoff=%v (fast path expected: %v); nil-Leader probe not fast-pathed",
		n, c.expectFastpath, c.expectFastpath)
}

func scenarioLargeInts(c *client) string {
	const m = maxSafe
	pv := int(m)
	// AppendEntries: every integer at 2^53-1 (LastLog = PrevLogEntry+1 = 2^53-1).
	c.append("append-max", &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		Term:      m, Leader: leaderAddr, PrevLogEntry: m - 1, PrevLogTerm: m,
		Entries:           []*raft.Log{entry(m, m, raft.LogCommand, []byte("max"), nil)},
		LeaderCommitIndex: uint64(entriesCRC([]*raft.Log{entry(m, m, raft.LogCommand, []byte("max"), nil)})),
	}, true, false)
	// LeaderCommitIndex 2^53-1 does not match the empty crc 0: Success=false.
	c.append("append-max-commit", &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		Term:      m, Leader: leaderAddr, PrevLogEntry: m, PrevLogTerm: m, LeaderCommitIndex: m,
	}, false, false)
	c.heartbeat("heartbeat-max", pv, m)
	c.vote("vote-max", &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		Term:      m - 1, Candidate: []byte("c"), LastLogIndex: m, LastLogTerm: m, LeadershipTransfer: true,
	})
	c.snapshot("snapshot-max", &raft.InstallSnapshotRequest{
		RPCHeader:       raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(pv)},
		SnapshotVersion: raft.SnapshotVersion(pv), Term: m, Leader: leaderAddr,
		LastLogIndex: m, LastLogTerm: m, Configuration: []byte("cfg"), ConfigurationIndex: m,
	}, pseudoRandomBytes(1000, 9))
	c.timeoutNow("timeoutnow-max", pv)
	return "every uint64 field (and ProtocolVersion/SnapshotVersion) at 2^53-1 accepted and echoed"
}

func scenarioPipeline(c *client) string {
	const total = 1000
	p, err := c.trans.AppendEntriesPipeline(c.id, c.target)
	check(err == nil, "AppendEntriesPipeline: %v", err)
	defer p.Close()

	reqs := make([]*raft.AppendEntriesRequest, total)
	index := uint64(1000)
	for i := range reqs {
		k := 1 + i%3
		var es []*raft.Log
		for j := 0; j < k; j++ {
			es = append(es, entry(index+uint64(j)+1, 20, raft.LogCommand, pseudoRandomBytes(16+i%64, uint32(i*3+j+1)), nil))
		}
		reqs[i] = appendReq(3, 20, index, es)
		index += uint64(k)
	}

	errCh := make(chan error, 1)
	go func() {
		errCh <- guard(func() {
			timer := time.NewTimer(30 * time.Second)
			defer timer.Stop()
			for i := 0; i < total; i++ {
				select {
				case f := <-p.Consumer():
					check(f.Request() == reqs[i], "future #%d is not request #%d: out of order", i, i)
					check(f.Error() == nil, "future #%d: %v", i, f.Error())
					checkAppendResp(fmt.Sprintf("pipeline #%d", i), reqs[i], f.Response(), true, false)
				case <-timer.C:
					failf("timed out waiting for future #%d", i)
				}
			}
		})
	}()
	for i, r := range reqs {
		if _, err := p.AppendEntries(r, &raft.AppendEntriesResponse{}); err != nil {
			p.Close()
			if cerr := <-errCh; cerr != nil {
				failf("%v (send #%d also failed: %v)", cerr, i, err)
			}
			failf("send #%d: %v", i, err)
		}
	}
	if err := <-errCh; err != nil {
		failf("%v", err)
	}
	return fmt.Sprintf("%d pipelined AppendEntries answered in order (raft %s, MaxRPCsInFlight flag %d)", total, raftVersion, maxInFlightFlag)
}

func scenarioConcurrent(c *client) string {
	const workers = 16
	per := c.n
	if per <= 0 {
		per = 100
	}
	trans, err := newTransport("127.0.0.1:0", 16)
	check(err == nil, "transport: %v", err)
	defer func() { trans.Close(); trans.CloseStreams() }()
	cc := *c
	cc.trans = trans

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if err := guard(func() {
				for i := 0; i < per; i++ {
					what := fmt.Sprintf("worker %d call %d", w, i)
					term := uint64(w*100000 + i + 1)
					switch i % 5 {
					case 0, 1:
						cc.append(what, appendReq(3, term, uint64(i), []*raft.Log{
							entry(uint64(i+1), term, raft.LogCommand, pseudoRandomBytes(100+w, uint32(term)), nil),
						}), true, false)
					case 2:
						cc.vote(what, &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3},
							Term: term, Candidate: []byte(fmt.Sprintf("w%d-%d", w, i)), LeadershipTransfer: i%2 == 0})
					case 3:
						cc.heartbeat(what, 3, term)
					case 4:
						if i%25 == 4 {
							cc.snapshot(what, &raft.InstallSnapshotRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3},
								SnapshotVersion: 1, Term: term, Leader: leaderAddr}, pseudoRandomBytes(4096, uint32(term)))
						} else {
							cc.timeoutNow(what, w%4)
						}
					}
				}
			}); err != nil {
				errs <- err
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	var msgs []string
	for err := range errs {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) > 0 {
		sort.Strings(msgs)
		failf("%d of %d workers failed: %s", len(msgs), workers, strings.Join(msgs, "; "))
	}
	return fmt.Sprintf("%d goroutines x %d mixed RPCs through a pool of 16", workers, per)
}

// scenarioUnsafeInt sends integers a JS peer cannot hold exactly; the server
// must refuse them (error response or dropped connection), promptly, and keep serving.
func scenarioUnsafeInt(c *client) string {
	type unsafeCase struct {
		what string
		call func() (string, error)
	}
	cases := []unsafeCase{
		{"AppendEntries Term=2^53", func() (string, error) {
			var resp raft.AppendEntriesResponse
			err := c.trans.AppendEntries(c.id, c.target, &raft.AppendEntriesRequest{Term: 1 << 53, Leader: leaderAddr}, &resp)
			return fmt.Sprintf("%+v", resp), err
		}},
		{"AppendEntries Entries[0].Index=2^64-1", func() (string, error) {
			var resp raft.AppendEntriesResponse
			err := c.trans.AppendEntries(c.id, c.target, appendReq(3, 2, 1, []*raft.Log{entry(^uint64(0), 2, raft.LogCommand, []byte("x"), nil)}), &resp)
			return fmt.Sprintf("%+v", resp), err
		}},
		{"RequestVote LastLogIndex=2^63", func() (string, error) {
			var resp raft.RequestVoteResponse
			err := c.trans.RequestVote(c.id, c.target, &raft.RequestVoteRequest{Term: 1, Candidate: []byte("c"), LastLogIndex: 1 << 63}, &resp)
			return fmt.Sprintf("%+v", resp), err
		}},
		{"InstallSnapshot ConfigurationIndex=2^53+1", func() (string, error) {
			var resp raft.InstallSnapshotResponse
			err := c.trans.InstallSnapshot(c.id, c.target, &raft.InstallSnapshotRequest{Term: 1, Leader: leaderAddr,
				ConfigurationIndex: 1<<53 + 1, Size: 10}, &resp, bytes.NewReader(make([]byte, 10)))
			return fmt.Sprintf("%+v", resp), err
		}},
	}
	var got []string
	for _, uc := range cases {
		start := time.Now()
		resp, err := uc.call()
		check(err != nil, "%s: server accepted it and answered %s; it must refuse integers above 2^53-1", uc.what, resp)
		var ne net.Error
		check(!(errors.As(err, &ne) && ne.Timeout()), "%s: server hung (%v after %v) instead of refusing", uc.what, err, time.Since(start))
		got = append(got, fmt.Sprintf("%s -> %q", uc.what, err.Error()))
		// The server must survive: a fresh, normal RPC works.
		c.vote("vote after "+uc.what, &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 9, Candidate: []byte("still-alive")})
	}
	return strings.Join(got, "; ")
}

// scenarioOversize sends a request over the server's frame limit (the TS
// server runs with maxFrameSize 1 MiB): Go must get an error naming the limit,
// not a reset or a timeout, so a Go leader's log says what to raise.
func scenarioOversize(c *client) string {
	req := appendReq(3, 5, 1, []*raft.Log{entry(2, 5, raft.LogCommand, pseudoRandomBytes(8<<20, 9), nil)})
	var resp raft.AppendEntriesResponse
	start := time.Now()
	err := c.trans.AppendEntries(c.id, c.target, req, &resp)
	check(err != nil, "8 MiB AppendEntries accepted; want it refused over maxFrameSize")
	var ne net.Error
	check(!(errors.As(err, &ne) && ne.Timeout()), "server hung (%v after %v) instead of answering", err, time.Since(start))
	check(strings.Contains(err.Error(), "maxFrameSize"), "error %q does not name maxFrameSize", err.Error())
	// Go pools a connection after any decoded answer, but the server closes it
	// after a refusal: the first call on it may see EOF (a leader retries).
	vote := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 9, Candidate: []byte("still-alive")}
	var vr raft.RequestVoteResponse
	if err := c.trans.RequestVote(c.id, c.target, vote, &vr); err != nil {
		check(errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset"),
			"first call after the refusal: %v, want EOF on the closed pooled connection", err)
	}
	c.vote("vote after oversize", vote)
	return fmt.Sprintf("8 MiB AppendEntries refused with %q", err.Error())
}

var scenarios = map[string]func(*client) string{
	"append":           scenarioAppend,
	"vote":             scenarioVote,
	"snapshot":         scenarioSnapshot,
	"timeoutnow":       scenarioTimeoutNow,
	"remote-error":     scenarioRemoteError,
	"heartbeat":        scenarioHeartbeat,
	"large-ints":       scenarioLargeInts,
	"pipeline":         scenarioPipeline,
	"concurrent":       scenarioConcurrent,
	"header":           scenarioHeader,
	"appendedat":       scenarioAppendedAt,
	"prevote":          scenarioPreVote,
	"pipeline-refused": scenarioPipelineRefused,
	"unsafe-int":       scenarioUnsafeInt,
	"oversize":         scenarioOversize,
}

var allOrder = []string{"append", "vote", "snapshot", "timeoutnow", "remote-error", "heartbeat", "large-ints", "pipeline", "concurrent"}

func clientMain(args []string) int {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	target := fs.String("target", "", "server host:port")
	scenario := fs.String("scenario", "all", "scenario name, or all")
	expectFastpath := fs.Bool("expect-fastpath", false, "heartbeats must come back with NoRetryBackoff (server has a heartbeat handler)")
	n := fs.Int("n", 0, "count for heartbeat / concurrent (per worker); 0 = default 100")
	fs.BoolVar(&verbose, "v", false, "transport logs on stderr")
	fs.IntVar(&maxInFlightFlag, "max-inflight", 0, "NetworkTransportConfig.MaxRPCsInFlight (1.5+; 0 = Go's default)")
	fs.BoolVar(&newTimeFormatFlag, "new-time-format", false, "NetworkTransportConfig.MsgpackUseNewTimeFormat (1.7+)")
	fs.Parse(args)
	if *target == "" {
		fmt.Fprintln(os.Stderr, "FAIL client: -target is required")
		return 2
	}
	names := []string{*scenario}
	if *scenario == "all" {
		names = allOrder
	}
	for _, name := range names {
		if _, ok := scenarios[name]; !ok {
			fmt.Fprintf(os.Stderr, "FAIL client: unknown scenario %q\n", name)
			return 2
		}
	}

	trans, err := newTransport("127.0.0.1:0", 3)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL client: transport: %v\n", err)
		return 1
	}
	defer func() { trans.Close(); trans.CloseStreams() }()
	c := &client{target: raft.ServerAddress(*target), id: raft.ServerID("peer-under-test"),
		expectFastpath: *expectFastpath, n: *n, trans: trans}

	for _, name := range names {
		start := time.Now()
		var details string
		if err := guard(func() { details = scenarios[name](c) }); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", name, err)
			return 1
		}
		fmt.Printf("PASS %s %s (%.0f ms)\n", name, details, float64(time.Since(start).Microseconds())/1000)
	}
	return 0
}
