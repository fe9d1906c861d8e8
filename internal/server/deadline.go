package server

import (
	"errors"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The connection enforces the server's four timeouts itself; net/http's are
// off. net/http would re-arm six read deadlines and two write deadlines
// for every request on a keep-alive connection, each a clock reading and a
// runtime timer, and it starts the header timeout only once four bytes of
// a request have arrived. The connection knows what it is doing (its
// phase) and when that began, from the clock readings the budget makes
// anyway, and sets a socket deadline only before a read or write, and only
// when it is off by more than slack from the one already set. At the
// usual rate of requests that is a few times a second, not eight times a
// request.
//
// The timeouts, each closing the connection:
//   - header timeout: from accept, or from the first byte of a later
//     request, until its headers are complete;
//   - read timeout: the same start, until the request's body is read;
//   - write timeout: from the end of a request's headers until its answer
//     is written;
//   - idle timeout: from an answer until the first byte of the next
//     request.

// timeouts are the server's timeouts, as a connection applies them.
type timeouts struct {
	header, read, write, idle time.Duration
	slack                     time.Duration // how far a socket deadline may be from the exact one
	base                      time.Time     // the origin of the connections' clock readings
}

// slackMax bounds the slack: within it of the exact deadline, the one set
// on the socket stays.
const slackMax = 250 * time.Millisecond

func newTimeouts(c Config) *timeouts {
	t := &timeouts{header: c.ReadHeaderTimeout, read: c.ReadTimeout, write: c.WriteTimeout, idle: c.IdleTimeout, base: time.Now()}
	if t.header <= 0 || (t.read > 0 && t.read < t.header) {
		t.header = t.read // as net/http does
	}
	t.slack = slackMax
	for _, d := range []time.Duration{t.header, t.read, t.write, t.idle} {
		if d > 0 {
			t.slack = min(t.slack, d/16)
		}
	}
	return t
}

// now is a monotonic clock reading, in nanoseconds since base: cheaper than
// time.Now, which also reads the wall clock.
func (t *timeouts) now() int64 { return int64(time.Since(t.base)) }

// Socket deadlines as clock readings: none, and one in the past.
const (
	noDeadline   = math.MaxInt64
	pastDeadline = math.MinInt64
)

// after returns the deadline d after the reading from, or noDeadline when
// d is not set.
func after(from int64, d time.Duration) int64 {
	if d <= 0 {
		return noDeadline
	}
	return from + int64(d)
}

func (t *timeouts) wall(deadline int64) time.Time {
	switch deadline {
	case noDeadline:
		return time.Time{}
	case pastDeadline:
		return aLongTimeAgo
	}
	return t.base.Add(time.Duration(deadline))
}

// deadlines are a connection's socket deadlines and what they are reckoned
// from.
type deadlines struct {
	kicked  atomic.Bool  // claimed: every read ends at once; written under dmu
	readSet atomic.Int64 // the read deadline set on the socket; written under dmu
	dmu     sync.Mutex

	// The reading side's: when the connection was accepted, when the
	// request in hand began and was complete, and when the last answer
	// went out.
	acceptedAt, reqStart, activeAt, answeredAt int64

	writeSet    int64        // the serving goroutine's alone
	writing     atomic.Int64 // in a write: when its answer began (a clock reading, at least 1); 0 otherwise
	writeKicked atomic.Bool  // evicted while answering: every write fails; written under dmu

	// net/http's background read, which it runs while a handler does and
	// interrupts with a deadline in the past, waits here instead of on the
	// socket: a byte a client pipelines stays in the kernel until net/http
	// reads the next request.
	bgAborted atomic.Bool
	bgAbort   chan struct{}
	bgTimer   *time.Timer // the background read's own
	closed    atomic.Bool

	// reqBuf identifies the buffer net/http reads requests and bodies
	// into (bufferEnd), from the connection's first read.
	reqBuf *byte
}

// aLongTimeAgo is a deadline in the past: a read with it returns at once.
var aLongTimeAgo = time.Unix(1, 0)

// errBackgroundReadAborted is what the background read returns once
// net/http interrupts it, a timeout as the socket would have returned.
var errBackgroundReadAborted = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

// readDeadline is when the read about to start must end, by c's phase.
func (c *conn) readDeadline(p phase) int64 {
	to := c.t.timeouts
	switch p {
	case phaseNew:
		return after(c.acceptedAt, to.header)
	case phaseReading:
		return after(c.reqStart, to.header)
	case phaseIdle:
		return after(c.answeredAt, to.idle)
	}
	return after(c.reqStart, to.read) // the body of the request in hand
}

// prepareRead sets the socket's read deadline for a read in phase p, if
// the one set is off by more than the slack. A claim's kick, which sets a
// deadline in the past, is never undone here: a read after it ends at once
// and settles the claim.
func (c *conn) prepareRead(p phase) {
	d := c.readDeadline(p)
	set := c.readSet.Load()
	if c.kicked.Load() || d == set || (d != noDeadline && set != noDeadline && set != pastDeadline && abs(d-set) <= int64(c.t.timeouts.slack)) {
		return
	}
	c.dmu.Lock()
	if !c.kicked.Load() {
		c.Conn.SetReadDeadline(c.t.timeouts.wall(d))
		c.readSet.Store(d)
	}
	c.dmu.Unlock()
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// kick makes every read of c end at once, or undoes that. The caller holds
// t.mu, so kicks and claims are ordered.
func (c *conn) kick(on bool) {
	c.dmu.Lock()
	c.kicked.Store(on)
	if on {
		c.Conn.SetReadDeadline(aLongTimeAgo)
		c.readSet.Store(pastDeadline)
	}
	c.dmu.Unlock()
	if on {
		c.wake()
	}
}

// SetReadDeadline is how net/http interrupts its background read; the
// connection sets its own deadlines otherwise. A deadline in the past ends
// a background read at once, and the next deadline (none, as net/http sets
// right after) readies the next one.
func (c *conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.bgAborted.Store(false)
		return nil
	}
	if t.Before(c.t.timeouts.base) {
		// In the past: before the server started.
		c.bgAborted.Store(true)
		c.wake()
	}
	return nil
}

// park waits, in place of the socket, for net/http to interrupt its
// background read. Nothing else may keep it waiting: it also ends at the
// later of the request's read and write deadlines, when the connection is
// claimed and when it is closed. done is false for a claim: the read then
// goes to the socket, which settles the claim.
func (c *conn) park() (n int, err error, done bool) {
	to := c.t.timeouts
	d := max(after(c.reqStart, to.read), after(c.activeAt, to.write))
	var expired <-chan time.Time
	if d != noDeadline {
		if c.bgTimer == nil {
			c.bgTimer = time.NewTimer(time.Duration(d - to.now()))
		} else {
			c.bgTimer.Reset(time.Duration(d - to.now()))
		}
		defer c.bgTimer.Stop()
		expired = c.bgTimer.C
	}
	for {
		switch {
		case c.bgAborted.Load():
			return 0, errBackgroundReadAborted, true
		case c.closed.Load():
			return 0, net.ErrClosed, true
		case c.kicked.Load():
			return 0, nil, false
		}
		select {
		case <-c.bgAbort:
		case <-expired:
			return 0, errBackgroundReadAborted, true
		}
	}
}

// wake ends a parked read, which then looks at why.
func (c *conn) wake() {
	select {
	case c.bgAbort <- struct{}{}:
	default:
	}
}

// isBackgroundRead reports whether a read of p in phase ph is net/http's
// background read: a read of one byte, made once a request's headers are
// read, into a buffer other than the one net/http reads requests into.
// net/http's reads of a request and its body ask for one byte too, when
// its buffer holds all but one byte of an unfinished line, and those must
// wait on the socket, with its deadline.
func (c *conn) isBackgroundRead(p []byte, ph phase) bool {
	return len(p) == 1 && (ph == phaseActive || ph == phaseAnswered) && bufferEnd(p) != c.reqBuf
}

// bufferEnd is the last byte of the array under p, which identifies the
// buffer p is a window of.
func bufferEnd(p []byte) *byte {
	return &p[:cap(p)][cap(p)-1]
}

// SetWriteDeadline is ignored: the connection sets its own.
func (c *conn) SetWriteDeadline(time.Time) error { return nil }

// Write sets the write deadline if it must, then writes. Every write
// belongs to the answer to the request begun last. While it waits, the
// connection is marked writing, from when that answer began: one whose
// client takes no answers can be evicted (connTracker).
func (c *conn) Write(p []byte) (int, error) {
	if c.writeKicked.Load() {
		return 0, errWriteClaimed
	}
	if d := after(c.activeAt, c.t.timeouts.write); d != c.writeSet && (d == noDeadline || c.writeSet == noDeadline || abs(d-c.writeSet) > int64(c.t.timeouts.slack)) {
		c.dmu.Lock()
		if !c.writeKicked.Load() {
			c.Conn.SetWriteDeadline(c.t.timeouts.wall(d))
		}
		c.dmu.Unlock()
		c.writeSet = d
	}
	c.writing.Store(max(c.activeAt, 1))
	n, err := c.Conn.Write(p)
	c.writing.Store(0)
	return n, err
}

// kickWrite ends the write c waits in, and fails every later one.
func (c *conn) kickWrite() {
	c.dmu.Lock()
	c.writeKicked.Store(true)
	c.Conn.SetWriteDeadline(aLongTimeAgo)
	c.dmu.Unlock()
}

// errWriteClaimed is what writes of a connection evicted while it has
// answers to write return: its client takes no answers, or it has had its
// run of pipelined answers.
var errWriteClaimed = &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection closed by the server: its place went to a newcomer, at the connection budget")}

// SetDeadline is net.Conn's; net/http does not call it on connections it
// serves.
func (c *conn) SetDeadline(t time.Time) error {
	return errors.New("echo_app connections set their own deadlines")
}
