// Command raftnode is a hashicorp/raft node (raft.NewRaft, the real library)
// running the KV example's state machine behind the KV example's HTTP API and
// command line, so one test harness drives Go and TypeScript nodes alike and
// mixes them in one cluster. It builds against Debian's raft 1.1.2 and the
// shared 1.5.0 and 1.7.3 trees without build tags: it uses only API that all
// three have.
//
//	raftnode --id n1 --raft 127.0.0.1:0 --http 127.0.0.1:0 [--bootstrap | --join HTTPADDR]
//
// It prints "RAFT <addr>" and "HTTP <addr>" once listening and shuts down on
// SIGTERM. Stores are in memory.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

func main() {
	id := flag.String("id", "", "the Raft ServerID")
	raftAddr := flag.String("raft", "127.0.0.1:0", "Raft bind address")
	httpAddr := flag.String("http", "127.0.0.1:0", "HTTP API bind address")
	bootstrap := flag.Bool("bootstrap", false, "start a one-server cluster of this node")
	join := flag.String("join", "", "HTTP address of a member to ask for AddVoter")
	snapThreshold := flag.Uint64("snapshot-threshold", 8192, "log entries between snapshots")
	trailing := flag.Uint64("trailing-logs", 10240, "log entries kept after a snapshot")
	snapInterval := flag.Duration("snapshot-interval", 120*time.Second, "how often to check whether to snapshot")
	heartbeat := flag.Duration("heartbeat-timeout", 1000*time.Millisecond, "follower heartbeat timeout")
	election := flag.Duration("election-timeout", 1000*time.Millisecond, "candidate election timeout")
	lease := flag.Duration("leader-lease-timeout", 500*time.Millisecond, "leader lease")
	verbose := flag.Bool("verbose", false, "raft's own logs on stderr")
	prefix := flag.Int("raft-prefix", -1, "a routing byte written before Raft on every dial and required on accept (Consul's RPCRaft is 1); -1: plain TCP")
	flag.Parse()
	if *id == "" {
		fmt.Fprintln(os.Stderr, "raftnode: --id is required")
		os.Exit(2)
	}

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(*id)
	conf.SnapshotThreshold = *snapThreshold
	conf.TrailingLogs = *trailing
	conf.SnapshotInterval = *snapInterval
	conf.HeartbeatTimeout = *heartbeat
	conf.ElectionTimeout = *election
	conf.LeaderLeaseTimeout = *lease
	conf.LogOutput = io.Discard
	if *verbose {
		conf.LogOutput = os.Stderr
	}

	var trans *raft.NetworkTransport
	var err error
	if *prefix >= 0 {
		layer, lerr := newPrefixLayer(*raftAddr, byte(*prefix))
		if lerr != nil {
			fail("raft transport: %v", lerr)
		}
		trans = raft.NewNetworkTransport(layer, 3, 10*time.Second, conf.LogOutput)
	} else if trans, err = raft.NewTCPTransport(*raftAddr, nil, 3, 10*time.Second, conf.LogOutput); err != nil {
		fail("raft transport: %v", err)
	}
	fsm := newKVFSM()
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, fsm, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		fail("raft: %v", err)
	}
	if *bootstrap {
		cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: conf.LocalID, Address: trans.LocalAddr()}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			fail("bootstrap: %v", err)
		}
	}

	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fail("http: %v", err)
	}
	n := &node{id: conf.LocalID, raft: r, fsm: fsm, trans: trans, httpAddr: ln.Addr().String()}
	srv := &http.Server{Handler: n.routes()}
	go srv.Serve(ln)
	fmt.Printf("RAFT %s\nHTTP %s\n", trans.LocalAddr(), n.httpAddr)

	stop := make(chan struct{})
	go n.registerHTTP(stop)
	if *join != "" {
		go n.joinVia(*join, stop)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	close(stop)
	srv.Close()
	r.Shutdown().Error()
	trans.Close()
	os.Exit(0)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "raftnode: "+format+"\n", args...)
	os.Exit(1)
}
