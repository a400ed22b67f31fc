package main

// Bench: AppendEntries throughput and latency of a Go NetworkTransport client
// against any server that follows the responder rules.

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// benchRequest is the one request a bench scenario sends over and over.
func benchRequest(scenario string) (*raft.AppendEntriesRequest, bool) {
	mk := func(count, size int) *raft.AppendEntriesRequest {
		es := make([]*raft.Log, count)
		for i := range es {
			es[i] = entry(uint64(1001+i), 5, raft.LogCommand, pseudoRandomBytes(size, uint32(i+1)), nil)
		}
		return appendReq(3, 5, 1000, es)
	}
	switch scenario {
	case "heartbeat":
		return &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: 3}, Term: 5, Leader: leaderAddr}, true
	case "128b":
		return mk(1, 128), true
	case "64x1k":
		return mk(64, 1024), true
	case "256x4k":
		return mk(256, 4096), true
	}
	return nil, false
}

type benchResult struct {
	Scenario      string  `json:"scenario"`
	Mode          string  `json:"mode"`
	N             int     `json:"n"`
	Seconds       float64 `json:"seconds"`
	RPS           float64 `json:"rps"`
	MBps          float64 `json:"mbps"`
	P50us         float64 `json:"p50us"`
	P99us         float64 `json:"p99us"`
	BytesPerReq   int     `json:"bytesPerReq"`
	PipelineDepth int     `json:"pipelineDepth,omitempty"`
	Client        string  `json:"client"`
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Nanoseconds()) / 1000
}

func benchMain(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	target := fs.String("target", "", "server host:port")
	scenario := fs.String("scenario", "128b", "heartbeat|128b|64x1k|256x4k")
	mode := fs.String("mode", "sync", "sync|pipeline")
	n := fs.Int("n", 20000, "timed requests")
	warmup := fs.Int("warmup", 1000, "untimed requests first")
	fs.BoolVar(&verbose, "v", false, "transport logs on stderr")
	fs.IntVar(&maxInFlightFlag, "window", 0, "pipeline window, NetworkTransportConfig.MaxRPCsInFlight (1.5+; 0 = Go's default 2; 1.1.2 is fixed at 128)")
	fs.Parse(args)

	req, ok := benchRequest(*scenario)
	if *target == "" || !ok || (*mode != "sync" && *mode != "pipeline") || *n <= 0 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "FAIL bench: need -target, -scenario heartbeat|128b|64x1k|256x4k, -mode sync|pipeline, -n > 0")
		return 2
	}
	trans, err := newTransport("127.0.0.1:0", 3)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL bench: transport: %v\n", err)
		return 1
	}
	defer func() { trans.Close(); trans.CloseStreams() }()
	id, addr := raft.ServerID("bench-target"), raft.ServerAddress(*target)
	wantLast := req.PrevLogEntry + uint64(len(req.Entries))
	verify := func(resp *raft.AppendEntriesResponse) error {
		if !resp.Success || resp.Term != req.Term || resp.LastLog != wantLast {
			return fmt.Errorf("bad response %+v", *resp)
		}
		return nil
	}

	lat := make([]time.Duration, 0, *n)
	var elapsed time.Duration
	res := benchResult{Scenario: *scenario, Mode: *mode, N: *n, BytesPerReq: payloadBytes(req.Entries),
		Client: "go hashicorp/raft " + raftVersion + " " + runtime.Version()}

	switch *mode {
	case "sync":
		var resp raft.AppendEntriesResponse
		var start time.Time
		for i := 0; i < *warmup+*n; i++ {
			if i == *warmup {
				start = time.Now()
			}
			t0 := time.Now()
			if err := trans.AppendEntries(id, addr, req, &resp); err != nil {
				fmt.Fprintf(os.Stderr, "FAIL bench: request %d: %v\n", i, err)
				return 1
			}
			if i >= *warmup {
				lat = append(lat, time.Since(t0))
			}
			if err := verify(&resp); err != nil {
				fmt.Fprintf(os.Stderr, "FAIL bench: request %d: %v\n", i, err)
				return 1
			}
		}
		elapsed = time.Since(start)
	case "pipeline":
		res.PipelineDepth = pipelineWindow()
		p, err := trans.AppendEntriesPipeline(id, addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL bench: pipeline: %v\n", err)
			return 1
		}
		defer p.Close()
		total := *warmup + *n
		startCh := make(chan time.Time, 1)
		done := make(chan error, 1)
		go func() {
			var start time.Time
			for i := 0; i < total; i++ {
				f := <-p.Consumer()
				if i == *warmup {
					start = <-startCh
				}
				if err := f.Error(); err != nil {
					done <- fmt.Errorf("future %d: %v", i, err)
					return
				}
				if i >= *warmup {
					lat = append(lat, time.Since(f.Start()))
				}
				if err := verify(f.Response()); err != nil {
					done <- fmt.Errorf("future %d: %v", i, err)
					return
				}
			}
			elapsed = time.Since(start)
			done <- nil
		}()
		// The timed window starts once the warm-up futures are all consumed.
		for i := 0; i < total; i++ {
			if i == *warmup {
				startCh <- time.Now()
			}
			if _, err := p.AppendEntries(req, &raft.AppendEntriesResponse{}); err != nil {
				fmt.Fprintf(os.Stderr, "FAIL bench: send %d: %v\n", i, err)
				return 1
			}
		}
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "FAIL bench: %v\n", err)
			return 1
		}
	}

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.Seconds = elapsed.Seconds()
	res.RPS = float64(*n) / res.Seconds
	res.MBps = float64(res.BytesPerReq) * float64(*n) / res.Seconds / 1e6
	res.P50us = percentile(lat, 0.50)
	res.P99us = percentile(lat, 0.99)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}
