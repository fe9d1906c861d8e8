package server

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The connection budget. Every open connection costs memory whether or not
// it ever sends a request (buffers, a goroutine, the kernel's socket
// buffers), so the number of connections is bounded, the way nginx bounds
// them with worker_connections. At the budget, a new connection takes the
// place of one that holds no complete request, or whose client takes no
// answers (connTracker has the order); when every connection holds one,
// the newcomer is closed at once rather than left in the kernel's backlog.

// Budget rule: the default budget is what fits in the memory limit after
// the server's own needs, each connection at its worst-case cost under the
// header limit in force (ConnBytes). BaseBytes is the server's footprint
// under load with room for the garbage collector to lag.
const (
	BaseBytes       = 16 << 20
	NoLimitMaxConns = 10000
)

// ConnHeapBytes is the most a connection costs the Go runtime, heap and
// stacks, when its request line and headers may take maxHeaderBytes (and
// net/http's 4,096 bytes of slack): a fixed part, and twice the header
// allowance, since net/http holds the fields read so far and a buffer as
// long as the line in hand. Measured worst (TestConnectionCost): 45 KiB of
// 72 at the default 16 KiB, 977 KiB of 2,088 at 1 MiB.
func ConnHeapBytes(maxHeaderBytes int) int64 {
	return 32<<10 + 2*int64(maxHeaderBytes+4096)
}

// ConnKernelBytes is the most a connection holds in the kernel's socket
// buffers: its receive and send buffers (socketBuffer, doubled by Linux)
// and the one packet the kernel takes past a full receive buffer, up to
// 64 KiB on loopback or after GRO. Measured worst: 103 KiB, a client that
// pipelines requests and takes no answers (TestPipelinersNotReading).
const ConnKernelBytes = 128 << 10

// ConnBytes is the most a connection costs, runtime and kernel.
func ConnBytes(maxHeaderBytes int) int64 {
	return ConnHeapBytes(maxHeaderBytes) + ConnKernelBytes
}

// MaxConnsFor returns the default connection budget for a memory limit in
// bytes under a header limit; a memory limit of zero or less means none
// is set. The budget is at most NoLimitMaxConns, limit or not: past that,
// file descriptors run out first. It is at least 1, even where the limit
// leaves room for none.
func MaxConnsFor(memLimit int64, maxHeaderBytes int) int {
	if memLimit <= 0 {
		return NoLimitMaxConns
	}
	n := (memLimit - BaseBytes) / ConnBytes(maxHeaderBytes)
	return int(max(min(n, NoLimitMaxConns), 1))
}

// connList is a list of connections that may be closed to make room, in
// the order they entered it.
type connList struct{ head, tail *conn }

func (l *connList) push(c *conn) {
	c.list, c.prev, c.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.list, c.prev, c.next = nil, nil, nil
}

// connTracker counts the open connections by phase and enforces the
// budget. At the budget, a newcomer takes the place of, in this order:
//
//  1. the connection answered longest ago: idle on keep-alive, or still
//     sending a body it was answered for. It is kept if bytes of a next
//     request have arrived by the moment it is decided.
//  2. a connection whose client takes no answers: its answer began
//     writeGrace ago or more and its write still waits on the client.
//     Its answers are dropped with it. Or, at its next answer, one that
//     has been answered pipelineRun requests in a row that its client
//     pipelined: it yields its place after that answer, with the
//     pipelined requests it still holds unanswered.
//  3. a connection whose request has been on its way for inFlightGrace or
//     more: silent since it connected (longest first), or else with only
//     the start of a request pipelined behind the one before it.
//  4. the connection that has been sending its headers longest.
//  5. the connection silent longest since it connected.
//  6. the connection whose pipelined request began longest ago.
//
// 5 and 6 wait while a write waits on its client, or a run of pipelined
// answers goes on: within writeGrace, or pipelineRun answers, it makes
// room under 2 instead.
//
// A connection of 3 to 6 is kept only if the bytes that have arrived by
// the moment it is decided complete its request's headers: a connection
// with a complete request in hand is never closed for the budget, unless
// its client takes no answers (2). When no
// connection can make room within admitWait, the newcomer is closed.
//
// The grace protects requests on their way: the one of a connection just
// accepted, and the rest of one whose start came in the same packet as the
// request before it. Under a flood of slow senders it is they who make
// room for newcomers, not a client that has had no time to send.
type connTracker struct {
	max      int
	timeouts *timeouts

	mu        sync.Mutex
	open      int // connections counted against the budget
	highWater int // the most open connections since memory was last released
	byPhase   [numPhases]int
	answered  connList // phaseIdle and phaseAnswered
	active    connList // phaseActive: evictable only when its client takes no answers
	silent    connList // phaseNew
	pipelined connList // phaseReading, its start pipelined
	reading   connList // phaseReading otherwise
	all       map[*conn]struct{}
	waiters   int           // newcomers waiting for room
	room      chan struct{} // wakes one of them

	evicted atomic.Uint64 // connections closed to make room
	refused atomic.Uint64 // new connections closed because none could be
}

// inFlightGrace is how long a request may take to arrive before the budget
// puts its connection ahead of those sending their headers.
const inFlightGrace = time.Second

// writeGrace is how long an answer may wait on its client before the
// budget may evict its connection. An answer is written in microseconds
// when the client reads: the socket's send buffer (socketBuffer) holds
// several. One still waiting writeGrace after it began waits on a client
// that has stopped reading.
const writeGrace = 20 * time.Millisecond

// pipelineRun is how many pipelined requests in a row a connection is
// answered while a newcomer waits for room. A client that pipelines
// requests and reads no answer has the kernel's buffers take some tens of
// them before its writes wait (35 of /metrics here): with no limit, each
// such connection cost as many answers and writeGrace before the budget
// could take its place, and the newcomers behind them waited in the
// accept queue. At ten times the budget of them (hammer abuse -kind
// noread), a live client's p50 went from 1 s to 3 ms; runs of 2 and 8
// gave p99s of 29-50 ms and 99-847 ms, 4 gave 33-66 ms. A client that
// reads its answers and pipelines more is cut short too, as HTTP/1.1
// allows a server to close after any answer; it sends the rest again on a
// new connection. One that pipelines a request behind another is not.
const pipelineRun = 4

// socketBuffer is what each connection asks of the kernel for its receive
// and its send buffer; Linux doubles it for its own accounting, so a
// connection holds at most 4*socketBuffer of kernel memory in its
// buffers. Left to itself, the kernel grows a loopback connection's
// buffers to megabytes: clients that pipeline requests and take no
// answers held 3.8 MB each.
const socketBuffer = 16 << 10

func newConnTracker(maxConns int, timeouts *timeouts) *connTracker {
	return &connTracker{
		max:      maxConns,
		timeouts: timeouts,
		all:      make(map[*conn]struct{}),
		room:     make(chan struct{}, 1),
	}
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
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetReadBuffer(socketBuffer)
				tc.SetWriteBuffer(socketBuffer)
			}
			return c, nil
		}
		nc.Close()
	}
}

// admitWait is how long a newcomer may wait for room when every
// connection has a complete request in hand: those are answered in
// microseconds, and waiting a moment beats closing a client that did
// nothing wrong. Meanwhile newer connections wait in the kernel's backlog.
const admitWait = 250 * time.Millisecond

// admit returns the tracked connection for nc, claiming a connection to
// make room if the budget is full. It returns nil when the budget stays
// full for admitWait with no connection that can make room.
func (t *connTracker) admit(nc net.Conn) *conn {
	now := t.timeouts.now()
	c := &conn{Conn: nc, t: t, counted: true, since: now}
	c.acceptedAt, c.reqStart = now, now
	c.readSet.Store(noDeadline)
	c.writeSet = noDeadline
	c.bgAbort = make(chan struct{}, 1)
	var timeout, recheck <-chan time.Time
	t.mu.Lock()
	for t.open >= t.max && !t.claimOne() {
		if timeout == nil {
			timer := time.NewTimer(admitWait)
			defer timer.Stop()
			timeout = timer.C
			// A writer becomes evictable with time, with nothing to
			// wake a newcomer.
			ticker := time.NewTicker(writeGrace / 4)
			defer ticker.Stop()
			recheck = ticker.C
		}
		t.waiters++
		t.mu.Unlock()
		select {
		case <-t.room:
		case <-recheck:
		case <-timeout:
			t.mu.Lock()
			t.waiters--
			t.mu.Unlock()
			t.refused.Add(1)
			return nil
		}
		t.mu.Lock()
		t.waiters--
	}
	t.open++
	t.highWater = max(t.highWater, t.open)
	t.byPhase[phaseNew]++
	t.all[c] = struct{}{}
	t.silent.push(c)
	t.mu.Unlock()
	return c
}

// roomMade wakes a newcomer waiting for room, if any. The caller holds
// t.mu.
func (t *connTracker) roomMade() {
	if t.waiters > 0 {
		select {
		case t.room <- struct{}{}:
		default:
		}
	}
}

// claimOne claims the first connection in the budget's order. The caller
// holds t.mu.
func (t *connTracker) claimOne() bool {
	now := t.timeouts.now()
	victim := t.answered.head
	// soon: a connection will make room shortly, under rule 2: an
	// answer waits on its client, not yet for writeGrace, or a run of
	// pipelined answers has begun.
	soon := false
	if victim == nil {
		for c := t.active.head; c != nil; c = c.next {
			w := c.writing.Load()
			if w != 0 && now-w >= int64(writeGrace) {
				t.claim(c, claimWriter)
				c.kickWrite()
				t.evicted.Add(1)
				return true
			}
			soon = soon || w != 0 || c.pipelinedRun > 0
		}
	}
	for _, l := range []*connList{&t.silent, &t.pipelined} {
		if f := l.head; victim == nil && f != nil && now-f.since >= int64(inFlightGrace) {
			victim = f
		}
	}
	if victim == nil {
		victim = t.reading.head
	}
	if victim == nil && !soon {
		// A request on its way goes only when no connection will make
		// room shortly under rule 2.
		for _, l := range []*connList{&t.silent, &t.pipelined} {
			if victim == nil {
				victim = l.head
			}
		}
	}
	if victim == nil {
		return false
	}
	t.claim(victim, claimBudget)
	t.evicted.Add(1) // taken back if the victim is kept
	return true
}

// claim takes c out of the budget and interrupts its read, so that its
// reading goroutine settles the claim. The caller holds t.mu.
func (t *connTracker) claim(c *conn, reason claimReason) {
	c.list.remove(c)
	c.counted = false
	t.open--
	c.reason = reason
	c.claimedIn = phase(c.phase.Load())
	c.claimed.Store(true)
	c.kick(true)
}

// settle decides, from c's reading goroutine, whether claimed c is closed:
// got says whether bytes arrived by the moment of deciding, and c is
// already in the phase they put it in. It returns whether c is kept.
func (t *connTracker) settle(c *conn, got bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := got && !c.closing && c.reason != claimWriter && c.reason != claimPipeliner
	if keep && c.reason == claimBudget && (c.claimedIn == phaseNew || c.claimedIn == phaseReading) {
		// Claimed while its request was incomplete: kept only if what
		// arrived completes it.
		keep = phase(c.phase.Load()) == phaseActive
	}
	if !keep {
		return false
	}
	if c.reason == claimBudget {
		t.evicted.Add(^uint64(0))
	}
	c.claimed.Store(false)
	c.counted = true
	t.open++
	t.link(c)
	c.kick(false)
	if t.open > t.max && c.reason == claimBudget {
		t.claimOne()
	}
	c.reason = 0
	return true
}

// link puts c in the eviction list of its phase, if it has one. The caller
// holds t.mu.
func (t *connTracker) link(c *conn) {
	var l *connList
	switch phase(c.phase.Load()) {
	case phaseIdle, phaseAnswered:
		l = &t.answered
	case phaseActive:
		l = &t.active
	case phaseNew:
		l = &t.silent
	case phaseReading:
		l = &t.reading
		if c.pipelined {
			l = &t.pipelined
		}
	}
	if c.list == l {
		return
	}
	if c.list != nil {
		c.list.remove(c)
	}
	if l != nil && c.counted {
		l.push(c)
		t.roomMade()
	}
}

// setPhase moves c to phase p. The caller holds t.mu.
func (t *connTracker) setPhase(c *conn, p phase) {
	if p != phaseReading {
		c.pipelined = false
	}
	t.byPhase[c.phase.Load()]--
	t.byPhase[p]++
	c.phase.Store(uint32(p))
	t.link(c)
}

// drop stops tracking c, which is closed. The caller holds t.mu.
func (t *connTracker) drop(c *conn) {
	if _, ok := t.all[c]; !ok {
		return
	}
	if c.list != nil {
		c.list.remove(c)
	}
	t.byPhase[c.phase.Load()]--
	if c.counted {
		c.counted = false
		t.open--
		t.roomMade()
	}
	delete(t.all, c)
}

// connStateHook is http.Server.ConnState.
func (t *connTracker) connStateHook(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		c.taken++
		c.activeAt = t.timeouts.now()
		if phase(c.phase.Load()) != phaseActive {
			t.mu.Lock()
			t.setPhase(c, phaseActive)
			t.mu.Unlock()
		}
	case http.StateIdle:
		// No read is in progress: net/http has answered and not yet
		// looked for the next request, which may be in its buffer.
		to := phaseIdle
		if pending, complete := c.pendingRequest(); complete {
			to = phaseActive
		} else if pending {
			to = phaseReading
		}
		c.answeredAt = t.timeouts.now()
		t.mu.Lock()
		if to == phaseActive {
			c.pipelinedRun++
		} else {
			c.pipelinedRun = 0
		}
		if to == phaseReading {
			// Its start came with the request just answered.
			c.pipelined, c.since, c.reqStart = true, c.partialSince, c.partialSince
		}
		t.setPhase(c, to)
		if c.pipelinedRun >= pipelineRun && t.waiters > 0 && c.counted {
			// net/http holds the next request in its buffer and reads
			// nothing for it: its answer's write fails instead.
			t.claim(c, claimPipeliner)
			c.kickWrite()
			t.evicted.Add(1)
			t.roomMade()
		}
		t.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		t.mu.Lock()
		t.drop(c)
		t.mu.Unlock()
	}
}

// lastAnswered records that the request on c, the last one c will carry, has
// been answered in full.
func (t *connTracker) lastAnswered(c *conn) {
	t.mu.Lock()
	c.closing = true
	t.setPhase(c, phaseAnswered)
	t.mu.Unlock()
}

// closeUnused claims every connection with no request in progress: those
// answered and those silent since they connected. Shutdown calls it until
// the server is quiet; a connection whose request arrives before its claim
// is settled is kept and answered.
func (t *connTracker) closeUnused() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := t.answered.head; c != nil; c = t.answered.head {
		t.claim(c, claimShutdown)
	}
	for c := t.silent.head; c != nil; c = t.silent.head {
		t.claim(c, claimShutdown)
	}
}

// closeAll closes every connection at once.
func (t *connTracker) closeAll() {
	t.mu.Lock()
	all := make([]*conn, 0, len(t.all))
	for c := range t.all {
		all = append(all, c)
	}
	t.mu.Unlock()
	for _, c := range all {
		c.Conn.Close()
	}
}

// tracked returns how many connections are still open.
func (t *connTracker) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.all)
}

// unanswered counts the requests in hand that are not yet answered.
func (t *connTracker) unanswered() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPhase[phaseActive]
}

// counts returns the open connections by phase.
func (t *connTracker) counts() [numPhases]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPhase
}

// releaseSurge is how far the open connections must fall from their high
// water mark before their memory is handed back: 256 connections, or a
// quarter of a smaller budget.
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
		ended := t.highWater-t.open >= min(releaseSurge, max(t.max/4, 1))
		if ended {
			t.highWater = t.open
		}
		t.mu.Unlock()
		if ended {
			// A collection first: net/http's pools of buffers keep
			// what one collection frees for one more.
			runtime.GC()
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

// requestAnswered records that r, the last request on its connection, has
// been answered in full. unasked says that its body was never asked for
// (Expect: 100-continue, and no 100 sent): the client waits to be asked,
// so net/http must not wait for it.
func requestAnswered(r *http.Request, unasked bool) {
	if c, ok := r.Context().Value(connKey{}).(*conn); ok {
		c.bodyUnasked.Store(unasked)
		c.t.lastAnswered(c)
	}
}

// MaxHeaderFields bounds the header fields of a request, as Apache's
// LimitRequestFields does; more get 431. Without it, net/http's map of
// 20 KB of tiny fields cost 266 KiB a connection.
const MaxHeaderFields = 100
