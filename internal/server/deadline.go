package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// deadlines are a connection's socket deadlines, set only when they
// matter. net/http sets six read deadlines and two write deadlines for
// every request on a keep-alive connection, and each one re-arms a runtime
// timer; the connection records them and sets the socket's just before a
// read or write, or at once when a read is in progress (net/http
// interrupts its background read that way). Read deadlines also carry the
// header deadline and the budget's interruptions.
type deadlines struct {
	reading atomic.Bool  // a read of the socket is in progress
	want    atomic.Int64 // the read deadline net/http asked for, in Unix nanoseconds; 0 for none
	wantSet atomic.Int64 // the last want applied

	// Guarded by dmu.
	dmu         sync.Mutex
	clamp       time.Time // the header deadline of the request in progress, or zero
	kicked      bool      // claimed: every read ends at once
	readSet     time.Time // the read deadline set on the socket
	noReadAfter time.Duration

	// The write side is the serving goroutine's alone.
	wantWrite, writeSet time.Time
	writeSlack          time.Duration
}

// writeSlackMax bounds how far the write deadline set on the socket may
// be from the one net/http asks for: within it, the one set stays.
const writeSlackMax = 250 * time.Millisecond

func (d *deadlines) init(writeTimeout time.Duration) {
	d.writeSlack = min(writeTimeout/16, writeSlackMax)
	if writeTimeout > 0 {
		// Longer than any answer takes: the write timeout bounds it.
		d.noReadAfter = 2*writeTimeout + time.Second
	}
}

// SetReadDeadline records the deadline net/http asks for. It is set on the
// socket at once if a read is in progress, else before the next read.
func (c *conn) SetReadDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.want.Store(ns)
	if c.reading.Load() {
		c.dmu.Lock()
		c.applyRead()
		c.dmu.Unlock()
	}
	return nil
}

func (c *conn) setClamp(t time.Time) {
	c.dmu.Lock()
	c.clamp = t
	c.applyRead()
	c.dmu.Unlock()
}

// kick makes every read of c end at once, or undoes that. The caller holds
// t.mu, so kicks and claims are ordered.
func (c *conn) kick(on bool) {
	c.dmu.Lock()
	c.kicked = on
	c.applyRead()
	c.dmu.Unlock()
}

// readDirty reports whether net/http has asked for a read deadline since
// the last one applied.
func (c *conn) readDirty() bool { return c.want.Load() != c.wantSet.Load() }

// applyRead sets the read deadline of the socket. A read that Read starts
// checks readDirty after it sets reading, and SetReadDeadline checks
// reading after it sets want, so every read runs with the deadline last
// asked for. The caller holds dmu.
func (c *conn) applyRead() {
	ns := c.want.Load()
	c.wantSet.Store(ns)
	var d time.Time
	if ns != 0 {
		d = time.Unix(0, ns)
	}
	switch {
	case c.kicked:
		d = aLongTimeAgo
	case !c.clamp.IsZero() && (d.IsZero() || c.clamp.Before(d)):
		d = c.clamp
	}
	if d.Equal(c.readSet) {
		return
	}
	if d.IsZero() && c.noReadAfter > 0 && time.Until(c.readSet) > c.noReadAfter {
		// No deadline, asked for net/http's background read while a
		// request is answered: one that ends later than any answer may
		// take does as well.
		return
	}
	c.Conn.SetReadDeadline(d)
	c.readSet = d
}

// SetWriteDeadline records the deadline net/http asks for, to be set
// before the next write.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wantWrite = t
	return nil
}

// Write sets the write deadline if it must, then writes. net/http asks for
// a deadline before every answer and for none after it; between answers
// nothing is written, so the one set may stay, and within writeSlack of
// the one asked for it does.
func (c *conn) Write(p []byte) (int, error) {
	switch w := c.wantWrite; {
	case w.IsZero():
		if !c.writeSet.IsZero() && time.Until(c.writeSet) < c.writeSlack {
			c.Conn.SetWriteDeadline(w)
			c.writeSet = w
		}
	case c.writeSet.IsZero() || w.Sub(c.writeSet).Abs() > c.writeSlack:
		c.Conn.SetWriteDeadline(w)
		c.writeSet = w
	}
	return c.Conn.Write(p)
}

// SetDeadline is net.Conn's; it is set on the socket at once.
func (c *conn) SetDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.dmu.Lock()
	c.want.Store(ns)
	c.wantSet.Store(ns)
	c.readSet = t
	c.wantWrite, c.writeSet = t, t
	c.dmu.Unlock()
	return c.Conn.SetDeadline(t)
}
