package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bodies no route asks for: net/http reads up to 256 KiB of one to look
// for its end after the answer, and with it chunk lines and trailers of
// any length, cut anywhere. Whatever a client sends there, its connection
// ends within the read timeout, and nothing of it stays open.

const chunkedHead = "GET /alpacas HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

// unfinishedLine is a chunked request whose body ends in a line of n
// bytes with no CRLF: a chunk-size line, or a trailer line after the last
// chunk.
func unfinishedLine(trailer bool, n int) string {
	head, fill := unfinishedParts(trailer, n)
	return head + strings.Repeat("a", fill)
}

// unfinishedParts is unfinishedLine as its start and the number of "a"
// bytes that follow it.
func unfinishedParts(trailer bool, n int) (head string, fill int) {
	if trailer {
		return chunkedHead + "0\r\nX", n - 1
	}
	return chunkedHead + "1;", max(n, 2) - 2
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors: %v", err)
	}
	return len(fds)
}

// waitUntracked waits up to limit for the server to have closed every
// connection, and fails the test naming what is left otherwise.
func waitUntracked(t *testing.T, srv *Server, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for srv.conns.tracked() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open %s later, by phase %v", srv.conns.tracked(), limit, srv.conns.counts())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnfinishedLineInBody: a chunk line or trailer line of 4,095 bytes
// with no CRLF fills net/http's 4,096-byte buffer but one byte, so its
// next read asks for one byte, as its background read does. The
// connection is answered, then closed within the read timeout, whether
// the client stays or leaves.
func TestUnfinishedLineInBody(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, trailer := range []bool{false, true} {
		for _, leaves := range []bool{false, true} {
			name := fmt.Sprintf("trailer=%v/client leaves=%v", trailer, leaves)
			t.Run(name, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.ReadTimeout = timeout
				cfg.ReadHeaderTimeout = timeout
				srv, _, _ := startBudgetServer(t, cfg)
				c := dial(t, srv.Addr().String())
				began := time.Now()
				c.send(unfinishedLine(trailer, 4095))
				if status, _ := c.read(); status != 200 {
					t.Fatalf("status %d, want 200", status)
				}
				if leaves {
					c.conn.Close()
					waitUntracked(t, srv, timeout+slackMax+time.Second)
					return
				}
				closedWithin(t, c.conn, began, timeout+slackMax+time.Second)
				waitUntracked(t, srv, time.Second)
			})
		}
	}
}

// TestAnyUnfinishedBody: chunk lines and trailer lines of every length
// from 1 to 70,000 bytes with no CRLF, and a chunked and a sized body cut
// at every byte. Every connection is closed within the read timeout,
// whether its client stays (even lengths) or leaves (odd ones), and the
// process's descriptors return to their number before.
func TestAnyUnfinishedBody(t *testing.T) {
	const (
		timeout = 200 * time.Millisecond
		longest = 70000
		workers = 1024
	)
	cfg := DefaultConfig()
	cfg.ReadTimeout = timeout
	cfg.ReadHeaderTimeout = timeout
	srv, _, _ := startBudgetServer(t, cfg)
	addr := srv.Addr().String()
	before := openFDs(t)

	// A request is a start and a number of "a" bytes after it, written
	// from one buffer: the lines alone would take 4.9 GB.
	type request struct {
		head string
		fill int
	}
	var requests []request
	step := 1
	if testing.Short() {
		step = 37 // and every length around net/http's buffer below
	}
	for n := 1; n <= longest; n++ {
		if n%step == 0 || (n > 4000 && n < 4200) || n < 64 {
			for _, trailer := range []bool{false, true} {
				head, fill := unfinishedParts(trailer, n)
				requests = append(requests, request{head, fill})
			}
		}
	}
	chunked := chunkedHead + "5;ext=x\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n"
	sized := "GET /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n0123456789abcdefghij"
	for _, whole := range []string{chunked, sized} {
		start := strings.Index(whole, "\r\n\r\n") + 4
		for cut := start; cut < len(whole); cut++ {
			requests = append(requests, request{whole[:cut], 0})
		}
	}

	fill := bytes.Repeat([]byte("a"), longest)
	limit := timeout + slackMax + 2*time.Second
	var (
		mu       sync.Mutex
		failures []string
		slowest  time.Duration
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					fail("request %d: %v", i, err)
					continue
				}
				began := time.Now()
				// The server may close before the end: a line too long.
				if _, err := io.WriteString(c, requests[i].head); err == nil {
					c.Write(fill[:requests[i].fill])
				}
				if i%2 == 1 {
					c.Close()
					continue
				}
				c.SetReadDeadline(began.Add(limit))
				if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
					fail("request %d (%d bytes): still open %s later: %v", i, len(requests[i].head)+requests[i].fill, time.Since(began), err)
				}
				mu.Lock()
				slowest = max(slowest, time.Since(began))
				mu.Unlock()
				c.Close()
			}
		})
	}
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	waitUntracked(t, srv, limit)
	deadline := time.Now().Add(limit)
	for openFDs(t) > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFDs(t); n > before {
		t.Errorf("%d descriptors open after %d requests, %d before", n, len(requests), before)
	}
	t.Logf("%d requests; the slowest closed %s after its request began (read timeout %s)", len(requests), slowest, timeout)
}

// isReset reports whether err is the reset of a connection the server
// closed with bytes unread.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// TestParkedReadEnds: a read taken for net/http's background read waits
// for net/http to interrupt it, but never longer than the request's
// deadlines, nor past the connection's close.
func TestParkedReadEnds(t *testing.T) {
	const timeout = 500 * time.Millisecond
	for _, closes := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.ReadTimeout, cfg.WriteTimeout = timeout, timeout
		tr := newConnTracker(10, newTimeouts(cfg))
		server, client := net.Pipe()
		defer client.Close()
		c := tr.admit(server)
		go client.Write([]byte("GET"))
		c.Read(make([]byte, 64)) // the first read: net/http's request buffer
		tr.connStateHook(c, http.StateActive)
		began := time.Now()
		if closes {
			time.AfterFunc(timeout/5, func() { c.Close() })
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			done <- err
		}()
		select {
		case err := <-done:
			took := time.Since(began)
			switch {
			case err == nil:
				t.Errorf("closes=%v: the parked read returned no error", closes)
			case closes && took >= timeout-slackMax/4:
				t.Errorf("the parked read ended %s after it began, at its deadline, not at the close %s after it began", took, timeout/5)
			case !closes && took < timeout-slackMax/4:
				t.Errorf("the parked read ended %s after it began, before its deadline %s", took, timeout)
			}
		case <-time.After(10 * timeout):
			t.Fatalf("closes=%v: the parked read still waits %s later", closes, 10*timeout)
		}
	}
}

// TestHeaderFieldLimit: a request with MaxHeaderFields header fields is
// answered; one with more gets 431 and its connection ends, after every
// request pipelined before it is answered. net/http would hold a map entry
// for each field: 20 KB of tiny fields cost 266 KiB a connection.
func TestHeaderFieldLimit(t *testing.T) {
	srv, _, _ := startBudgetServer(t, DefaultConfig())
	request := func(fields int) string {
		var b strings.Builder
		b.WriteString("GET /alpacas HTTP/1.1\r\nHost: x\r\n")
		for i := 1; i < fields; i++ {
			fmt.Fprintf(&b, "F%d: v\r\n", i)
		}
		return b.String() + "\r\n"
	}
	c := dial(t, srv.Addr().String())
	c.send(request(MaxHeaderFields))
	if status, body := c.read(); status != 200 {
		t.Fatalf("%d fields: %d %q, want 200", MaxHeaderFields, status, body)
	}
	c.send(request(MaxHeaderFields) + request(MaxHeaderFields+1) + request(1))
	if status, _ := c.read(); status != 200 {
		t.Errorf("the request pipelined before the one with too many fields: %d, want 200", status)
	}
	status, body := c.read()
	if status != 431 || !strings.Contains(body, "at most 100 header fields") {
		t.Errorf("%d fields: %d %q, want 431 naming the limit", MaxHeaderFields+1, status, body)
	}
	if !c.closedByServer(time.Second) {
		t.Error("the connection is still open after the 431")
	}
}

// TestUnaskedBodyNotAwaited: a request that expects 100-continue, answered
// with Connection: close and no 100, ends its connection at once: its
// client waits to be asked for the body and never sends it.
func TestUnaskedBodyNotAwaited(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReadTimeout = 5 * time.Second
	srv, _, _ := startBudgetServer(t, cfg)
	c := dial(t, srv.Addr().String())
	began := time.Now()
	c.send("POST /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
	if status, _ := c.read(); status != 405 {
		t.Fatalf("status %d, want 405", status)
	}
	if d := closedWithin(t, c.conn, began, time.Second); d > 500*time.Millisecond {
		t.Errorf("closed %s after the request, want at once", d)
	}
}

// TestEmptyLinesBeforeRequest: empty lines before a request line are
// ignored (RFC 9112, 2.2), however they arrive, and any number of them,
// and they do not extend the header timeout.
func TestEmptyLinesBeforeRequest(t *testing.T) {
	const get = "GET /alpacas HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tt := range []struct {
		name   string
		writes []string
	}{
		{"one CRLF", []string{"\r\n" + get}},
		{"bare LF and several CRLF", []string{"\n\r\n\r\n" + get}},
		{"CR and LF apart", []string{"\r", "\n", get}},
		{"200 CRLFs, one a write", append(slices.Repeat([]string{"\r\n"}, 200), get)},
		{"after a keep-alive answer", []string{get, "\r\n\r\n" + get}},
		{"between pipelined requests", []string{get + "\r\n" + get}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, _ := startBudgetServer(t, DefaultConfig())
			c := dial(t, srv.Addr().String())
			want := strings.Count(strings.Join(tt.writes, ""), "GET")
			for _, w := range tt.writes {
				c.send(w)
				time.Sleep(time.Millisecond)
			}
			for i := range want {
				if status, body := c.read(); status != 200 {
					t.Fatalf("answer %d: %d %q, want 200", i+1, status, body)
				}
			}
		})
	}
	t.Run("the header timeout still runs", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		cfg := DefaultConfig()
		cfg.ReadHeaderTimeout = timeout
		srv, _, _ := startBudgetServer(t, cfg)
		c := dial(t, srv.Addr().String())
		began := time.Now()
		go trickle(c.conn, strings.Repeat("\r\n", 100), 20*time.Millisecond, nil)
		if d := closedWithin(t, c.conn, began, 5*timeout); d > timeout+slackMax+100*time.Millisecond {
			t.Errorf("closed %s after it connected, sending only CRLFs; want the header timeout, %s", d, timeout)
		}
	})
}
