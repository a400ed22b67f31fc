package main

import (
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// prefixLayer is a raft.StreamLayer for Raft on a shared port, as Consul does
// it: Dial writes a routing byte before Raft's first request, and Accept
// takes only connections that start with it (reading it within a handshake
// deadline). It is the Go counterpart of the TypeScript PrefixDialer and
// firstByteRouter, for the interop tests.
type prefixLayer struct {
	net.Listener
	prefix byte
}

func newPrefixLayer(bind string, prefix byte) (*prefixLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return &prefixLayer{Listener: ln, prefix: prefix}, nil
}

func (l *prefixLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		b := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, b); err != nil || b[0] != l.prefix {
			c.Close()
			continue
		}
		c.SetReadDeadline(time.Time{})
		return c, nil
	}
}

func (l *prefixLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{l.prefix}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
