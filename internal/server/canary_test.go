package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Canaries: what the connection wrapper relies on in net/http, each
// checked against net/http itself, so that a Go release that changes it
// fails here, naming the assumption, rather than in a server that waits
// forever.

// recordingConn records the reads and read deadlines net/http asks of a
// connection.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	events []readEvent
}

type readEvent struct {
	read     bool  // a read; otherwise SetReadDeadline
	n        int   // the read's length
	buf      *byte // the read's bufferEnd
	past     bool  // the deadline is in the past
	zero     bool  // the deadline is none
	inHandle bool  // while the handler ran
}

func (c *recordingConn) record(e readEvent) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

func (c *recordingConn) Read(p []byte) (int, error) {
	c.record(readEvent{read: true, n: len(p), buf: bufferEnd(p), inHandle: handling.Load()})
	return c.Conn.Read(p)
}

func (c *recordingConn) SetReadDeadline(t time.Time) error {
	c.record(readEvent{past: !t.IsZero() && t.Before(time.Now()), zero: t.IsZero(), inHandle: handling.Load()})
	return c.Conn.SetReadDeadline(t)
}

type recordingListener struct {
	net.Listener
	conns chan *recordingConn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &recordingConn{Conn: nc}
	l.conns <- c
	return c, nil
}

// serveRecorded serves handler with net/http's defaults (no timeouts, as
// Listen sets) over one connection, sends raw on it, reads what comes
// back until the server closes or 2 s pass, and returns what net/http
// asked of the connection.
func serveRecorded(t *testing.T, handler http.HandlerFunc, raw string) []readEvent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &recordingListener{Listener: ln, conns: make(chan *recordingConn, 1)}
	srv := &http.Server{Handler: handler}
	go srv.Serve(rl)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
	rc := <-rl.conns
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]readEvent(nil), rc.events...)
}

// handling is set while a canary's handler runs.
var handling atomic.Bool

// TestCanaryBackgroundRead pins how net/http reads while a handler runs,
// which isBackgroundRead and park rely on: one read of one byte, into a
// buffer other than the one requests are read into, ended by a read
// deadline in the past and followed by a deadline of none.
func TestCanaryBackgroundRead(t *testing.T) {
	events := serveRecorded(t, func(w http.ResponseWriter, r *http.Request) {
		handling.Store(true)
		time.Sleep(100 * time.Millisecond)
		handling.Store(false)
	}, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if len(events) == 0 || !events[0].read && !events[0].zero {
		t.Fatalf("net/http's first act on a connection is %+v, not a read (or a deadline of none before it)", events)
	}
	var reqBuf *byte
	background := -1
	for i, e := range events {
		switch {
		case e.read && reqBuf == nil:
			reqBuf = e.buf
		case e.read && e.inHandle:
			if e.n != 1 || e.buf == reqBuf {
				t.Fatalf("assumption broken: net/http's read while a handler runs asks %d bytes into the request buffer (%v), not one byte into a buffer of its own", e.n, e.buf == reqBuf)
			}
			background = i
		}
	}
	if background < 0 {
		t.Fatalf("assumption broken: net/http made no read while the handler ran (its background read): %+v", events)
	}
	var past, none bool
	for _, e := range events[background+1:] {
		switch {
		case e.read && !past:
			t.Fatalf("assumption broken: net/http read again before ending its background read with a deadline in the past: %+v", events)
		case e.past:
			past = true
		case e.zero && past:
			none = true
		}
	}
	if !past || !none {
		t.Errorf("assumption broken: net/http ends its background read with a deadline in the past (%v), then sets none (%v): %+v", past, none, events)
	}
	for _, e := range events {
		if !e.read && !e.past && !e.zero {
			t.Errorf("assumption broken: with no timeouts set, net/http sets a read deadline in the future: %+v", events)
		}
	}
}

// claimedConn fails its reads as a claimed connection's do.
type claimedConn struct{ net.Conn }

func (c claimedConn) Read(p []byte) (int, error) { return 0, errClaimed }

// TestCanaryClaimedReadAnswersNothing pins what errClaimed relies on: a
// read that fails with a *net.OpError in the middle of a request's
// headers makes net/http close the connection without answering it.
func TestCanaryClaimedReadAnswersNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(claimingListener{ln})
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHo")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(c)
	// A reset is a silent close too: the bytes sent are unread.
	if len(got) > 0 || (err != nil && !isReset(err)) {
		t.Errorf("assumption broken: a read error in the headers makes net/http answer %q (%v), not close the connection silently", got, err)
	}
}

type claimingListener struct{ net.Listener }

func (l claimingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return claimedConn{nc}, nil
}

// TestCanaryConnStates pins the order of http.Server.ConnState that the
// budget's phases follow (connStateHook): new, then for each request
// active, before its handler runs, and idle after its answer, before the
// next request is read, even one already in net/http's buffer; closed
// straight after the answer that closes the connection.
func TestCanaryConnStates(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	note := func(s string) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { note("handler") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			note(s.String())
			if s == http.StateClosed {
				close(closed)
			}
		},
	}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Two requests in one write: the second waits in net/http's buffer
	// while the first is answered.
	io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
	c.Close()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("assumption broken: net/http reported no closed state within 2 s of the close")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"new", "active", "handler", "idle", "active", "handler", "closed"}
	if !slices.Equal(seen, want) {
		t.Errorf("assumption broken: net/http reports the states %v for two pipelined requests, not %v", seen, want)
	}
}

// TestCanaryListenerCloseEndsServe pins what Server.Serve's shutdown
// relies on instead of http.Server.Shutdown: closing the listener makes
// http.Server.Serve return at once, with net.ErrClosed, while a
// connection already open is still served, its next request answered.
func TestCanaryListenerCloseEndsServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	answer := func() string {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		b := make([]byte, 512)
		n, _ := io.ReadAtLeast(c, b, 1)
		return string(b[:n])
	}
	if got := answer(); !strings.HasSuffix(got, "\r\n\r\nok") {
		t.Fatalf("first answer %q", got)
	}
	ln.Close()
	select {
	case err := <-served:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("assumption broken: closing the listener makes Serve return %v, not net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("assumption broken: Serve has not returned 2 s after its listener closed")
	}
	if got := answer(); !strings.HasSuffix(got, "\r\n\r\nok") {
		t.Errorf("assumption broken: after the listener closed, an open connection's next request gets %q, not its answer", got)
	}
}
