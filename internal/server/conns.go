package server

import (
	"context"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The connection budget. Every open connection costs memory whether or not
// it ever sends a request (buffers and a goroutine: about 20 KB), so the
// number of connections is bounded, the way nginx bounds them with
// worker_connections. At the budget, a new connection takes the place of the
// connection that has waited longest without a request in progress; when
// every connection has one, the newcomer is closed at once rather than left
// in the kernel's backlog.

// Budget rule: the default budget is what fits in the memory limit after the
// server's own needs. PerConnBytes is 20 KB measured per idle keep-alive
// connection (docs/reliability.md), rounded up for a request in progress;
// BaseBytes is the server's footprint under load with room for the garbage
// collector to lag.
const (
	PerConnBytes    = 32 << 10
	BaseBytes       = 16 << 20
	MinConns        = 64
	NoLimitMaxConns = 10000
)

// MaxConnsFor returns the default connection budget for a memory limit in
// bytes; a limit of zero or less means none is set.
func MaxConnsFor(memLimit int64) int {
	if memLimit <= 0 {
		return NoLimitMaxConns
	}
	n := (memLimit - BaseBytes) / PerConnBytes
	return int(max(min(n, NoLimitMaxConns), MinConns))
}

// connState is a connection's state as the budget sees it.
type connState int32

const (
	connNew    connState = iota // accepted, its first request not yet begun
	connActive                  // a request is being read or answered
	connIdle                    // answered; waiting for the next request
	numConnStates
)

var connStateLabels = [numConnStates]string{"new", "active", "idle"}

// conn is an accepted connection that tells the budget whether a request is
// in progress on it. A connection is waiting, and so may be closed without
// losing anything, when it is new or idle, a read for its next request is
// blocked, and no byte of that request has arrived.
type conn struct {
	net.Conn
	reading  atomic.Bool // a Read is blocked in the kernel
	received atomic.Bool // a byte has arrived since the connection was new or idle
	handled  atomic.Bool // the handler of the current request has returned
	answered atomic.Bool // and the response has been written since

	// Guarded by connTracker.mu.
	state      connState
	prev, next *conn // in the waiting list when state is new or idle
	counted    bool  // still counted in open: not closed by the budget
}

func (c *conn) Read(p []byte) (int, error) {
	c.reading.Store(true)
	n, err := c.Conn.Read(p)
	if n > 0 {
		// Stored before reading is cleared, so that no instant shows a
		// connection with bytes in hand as waiting.
		c.received.Store(true)
	}
	c.reading.Store(false)
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err == nil && c.handled.Load() {
		// net/http writes the end of a response after the handler
		// returns; once that is out, the request is answered.
		c.answered.Store(true)
	}
	return n, err
}

func (c *conn) waiting() bool {
	return c.reading.Load() && !c.received.Load()
}

// connTracker counts the open connections by state and enforces the budget.
type connTracker struct {
	max int

	mu         sync.Mutex
	open       int
	highWater  int // the most open connections since memory was last released
	byState    [numConnStates]int
	head, tail *conn // new and idle connections, longest waiting first
	all        map[*conn]struct{}

	evicted atomic.Uint64 // idle connections closed to make room
	refused atomic.Uint64 // new connections closed because none could be
}

func newConnTracker(maxConns int) *connTracker {
	return &connTracker{max: maxConns, all: make(map[*conn]struct{})}
}

// listener applies the budget to every accepted connection.
type listener struct {
	net.Listener
	conns *connTracker
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.conns.admit(nc); c != nil {
			return c, nil
		}
		nc.Close()
	}
}

// admit returns the tracked connection for nc, closing the longest waiting
// connection first if the budget is full. It returns nil when the budget
// is full and no connection is waiting.
func (t *connTracker) admit(nc net.Conn) *conn {
	t.mu.Lock()
	var victim *conn
	if t.open >= t.max {
		victim = t.longestWaiting()
		if victim == nil {
			t.mu.Unlock()
			t.refused.Add(1)
			return nil
		}
		t.drop(victim)
	}
	c := &conn{Conn: nc, state: connNew, counted: true}
	t.open++
	t.highWater = max(t.highWater, t.open)
	t.byState[connNew]++
	t.all[c] = struct{}{}
	t.push(c)
	t.mu.Unlock()
	if victim != nil {
		victim.Conn.Close()
		t.evicted.Add(1)
	}
	return c
}

// longestWaiting returns the connection that has waited longest for a
// request, or nil. Connections in the list that are receiving a request are
// skipped.
func (t *connTracker) longestWaiting() *conn {
	for c := t.head; c != nil; c = c.next {
		if c.waiting() {
			return c
		}
	}
	return nil
}

// connStateHook is http.Server.ConnState.
func (t *connTracker) connStateHook(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		c.handled.Store(false)
		c.answered.Store(false)
		t.setState(c, connActive)
	case http.StateIdle:
		c.received.Store(false)
		t.setState(c, connIdle)
	case http.StateHijacked, http.StateClosed:
		t.mu.Lock()
		if c.counted {
			t.drop(c)
		}
		t.mu.Unlock()
	}
}

func (t *connTracker) setState(c *conn, s connState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !c.counted {
		return
	}
	if c.state != connActive {
		t.unlink(c)
	}
	t.byState[c.state]--
	c.state = s
	t.byState[s]++
	if s != connActive {
		t.push(c)
	}
}

// drop stops counting c. The caller holds t.mu.
func (t *connTracker) drop(c *conn) {
	if c.state != connActive {
		t.unlink(c)
	}
	t.byState[c.state]--
	t.open--
	c.counted = false
	delete(t.all, c)
}

func (t *connTracker) push(c *conn) {
	c.prev, c.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = c
	} else {
		t.head = c
	}
	t.tail = c
}

func (t *connTracker) unlink(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		t.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// closeUnused closes every connection with no request in progress: those
// waiting for a request and those whose request is answered. Shutdown calls
// it until the server is quiet.
func (t *connTracker) closeUnused() {
	var unused []*conn
	t.mu.Lock()
	for c := range t.all {
		if c.waiting() || (c.state == connActive && c.answered.Load()) {
			t.drop(c)
			unused = append(unused, c)
		}
	}
	t.mu.Unlock()
	for _, c := range unused {
		c.Conn.Close()
	}
}

// unanswered counts the requests that have begun and are not yet answered.
func (t *connTracker) unanswered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := range t.all {
		if c.state == connActive && !c.answered.Load() {
			n++
		}
	}
	return n
}

// counts returns the open connections by state.
func (t *connTracker) counts() [numConnStates]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byState
}

// releaseSurge is how far the open connections must fall from their high
// water mark before their memory is handed back: 256 connections, about
// 8 MiB at PerConnBytes.
const releaseSurge = 256

// releaseAfterSurges returns the memory of connections to the operating
// system once a surge of them has ended, checking every interval until ctx
// is done. Their buffers and goroutine stacks are garbage that the Go
// runtime frees only at its next collection, which an idle server may not
// run for two minutes, and returns to the system slowly after that: without
// this, a flood would leave the process at its peak RSS.
func (t *connTracker) releaseAfterSurges(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		ended := t.highWater-t.open >= releaseSurge
		if ended {
			t.highWater = t.open
		}
		t.mu.Unlock()
		if ended {
			debug.FreeOSMemory()
		}
	}
}

type connKey struct{}

// connContext is http.Server.ConnContext: it lets the handler find the
// connection its request came on.
func connContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// handlerReturned records that the handler of r has returned, so the next
// write on its connection completes the response.
func handlerReturned(r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*conn); ok {
		c.handled.Store(true)
	}
}
