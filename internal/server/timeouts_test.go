package server

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// closedWithin waits for the server to close c, reading and discarding
// what it sends, and returns how long that took from began; it fails the
// test if the connection is still open after limit.
func closedWithin(t *testing.T, c net.Conn, began time.Time, limit time.Duration) time.Duration {
	t.Helper()
	c.SetReadDeadline(began.Add(limit))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("connection still open %s after it began: %v", time.Since(began), err)
	}
	return time.Since(began)
}

// TestTimeouts: each of the server's timeouts closes the connection it
// applies to, about when it should.
func TestTimeouts(t *testing.T) {
	const timeout = 400 * time.Millisecond
	for _, tt := range []struct {
		name string
		set  func(*Config)
		// run drives the connection and returns when the timeout starts.
		run func(t *testing.T, c *client) time.Time
	}{
		{"idle keep-alive connection", func(c *Config) { c.IdleTimeout = timeout }, func(t *testing.T, c *client) time.Time {
			c.get("/alpacas")
			return time.Now()
		}},
		{"silent new connection", func(c *Config) { c.ReadHeaderTimeout = timeout }, func(t *testing.T, c *client) time.Time {
			return time.Now()
		}},
		{"headers never finished", func(c *Config) { c.ReadHeaderTimeout = timeout }, func(t *testing.T, c *client) time.Time {
			began := time.Now()
			c.send("GET /alpacas HTTP/1.1\r\nHost: x\r\n")
			return began
		}},
		{"body sent too slowly", func(c *Config) { c.ReadTimeout = timeout }, func(t *testing.T, c *client) time.Time {
			began := time.Now()
			c.send("POST /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
			go trickle(c.conn, strings.Repeat("x", 50), 50*time.Millisecond, nil)
			return began
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.set(&cfg)
			srv, _, _ := startBudgetServer(t, cfg)
			c := dial(t, srv.Addr().String())
			began := tt.run(t, c)
			d := closedWithin(t, c.conn, began, 5*timeout)
			if d < timeout-slackMax/4 || d > timeout+slackMax+100*time.Millisecond {
				t.Errorf("closed %s after the timeout began, want about %s", d, timeout)
			}
		})
	}
}

// TestWriteTimeout: a client that asks for answers and never reads them is
// disconnected once a write has waited the write timeout.
func TestWriteTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WriteTimeout = 400 * time.Millisecond
	srv, _, _ := startBudgetServer(t, cfg)
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Metrics answers of about 4 KB each, 12 MB in all: more than the
	// socket buffers hold, while the client reads nothing, so the server's
	// writes block.
	batch := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 100)
	go func() {
		for range 30 {
			if _, err := io.WriteString(c, batch); err != nil {
				return
			}
		}
	}()
	waitOpen(t, srv, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.conns.mu.Lock()
		n := len(srv.conns.all)
		srv.conns.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads is still connected after 5 s, with a write timeout of 400 ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
