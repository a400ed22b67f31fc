package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/raft"
)

func serveMain(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "bind address (must be advertisable, not 0.0.0.0)")
	heartbeat := fs.Bool("heartbeat", false, "install a heartbeat fast-path handler")
	noStdin := fs.Bool("no-stdin", false, "ignore stdin; run until SIGINT/SIGTERM")
	fs.BoolVar(&verbose, "v", false, "transport logs on stderr")
	doReport := fs.Bool("report", false, "print a SAW {json} line per RPC: what Go decoded")
	fs.IntVar(&maxInFlightFlag, "max-inflight", 0, "NetworkTransportConfig.MaxRPCsInFlight (1.5+; 0 = Go's default)")
	fs.BoolVar(&newTimeFormatFlag, "new-time-format", false, "NetworkTransportConfig.MsgpackUseNewTimeFormat (1.7+)")
	fs.Parse(args)
	answer := respond
	if *doReport {
		answer = func(rpc raft.RPC, hb bool) { report(rpc, hb); respond(rpc, hb) }
	}

	trans, err := newTransport(*addr, 3)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL serve: %v\n", err)
		return 1
	}
	if *heartbeat {
		trans.SetHeartbeatHandler(func(rpc raft.RPC) { answer(rpc, true) })
	}

	done := make(chan struct{})
	go func() {
		for {
			select {
			case rpc := <-trans.Consumer():
				// One goroutine per RPC: each belongs to its own connection
				// handler, and a snapshot must not hold up the others.
				go answer(rpc, false)
			case <-done:
				return
			}
		}
	}()

	// os.Stdout is unbuffered: the line is out once Printf returns.
	fmt.Printf("LISTEN %s\n", trans.LocalAddr())

	if *noStdin {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
	} else {
		io.Copy(io.Discard, os.Stdin)
	}
	close(done)
	trans.Close()
	trans.CloseStreams()
	return 0
}
