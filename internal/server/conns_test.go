package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMaxConnsFor(t *testing.T) {
	headers := DefaultConfig().MaxHeaderBytes
	for _, tt := range []struct {
		limit   int64
		headers int
		want    int
	}{
		{0, headers, NoLimitMaxConns},
		{-1, headers, NoLimitMaxConns},
		{48 << 20, headers, 163}, // the shipped GOMEMLIMIT: 32 MiB at 200 KiB a connection
		{64 << 20, headers, 245}, // the shipped container limit
		{48 << 20, 1 << 20, 14},  // the largest header limit: 2.2 MiB a connection
		{8 << 20, headers, 1},    // below the server's own needs
		{1 << 40, headers, NoLimitMaxConns},
	} {
		if got := MaxConnsFor(tt.limit, tt.headers); got != tt.want {
			t.Errorf("MaxConnsFor(%d, %d) = %d, want %d", tt.limit, tt.headers, got, tt.want)
		}
	}
}

// startBudgetServer serves the shipped handler with cfg on a free loopback
// port.
func startBudgetServer(t *testing.T, cfg Config) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	return serveTest(t, cfg, io.Discard, false)
}

// serveTest serves the shipped handler with cfg on a free loopback port,
// logging to log, until the returned cancel is called or the test ends;
// with checkExit, an error from Serve fails the test.
func serveTest(t *testing.T, cfg Config, log io.Writer, checkExit bool) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := Listen(cfg, newTestHandler(), slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		err := <-served
		served <- err
		if checkExit && err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, cancel, served
}

// client is one raw keep-alive connection.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t, c, bufio.NewReader(c)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// get sends a request and returns its status and body.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
	return c.read()
}

func (c *client) read() (int, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// waitPhase waits until the server counts want connections in phase p:
// net/http moves a connection to idle only after the client may already
// have read its answer.
func waitPhase(t *testing.T, srv *Server, p phase, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.conns.counts()[p] != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections %s, want %d", srv.conns.counts()[p], phaseLabels[p], want)
		}
		time.Sleep(time.Millisecond)
	}
}

// closedByServer reports whether the server closes the connection within d.
func (c *client) closedByServer(d time.Duration) bool {
	c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := c.r.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// metric returns the line of /metrics that starts with name.
func metric(t *testing.T, addr, name string) string {
	t.Helper()
	_, body := dial(t, addr).get(MetricsPath)
	return metricLine(t, body, name)
}

func metricLine(t *testing.T, body, name string) string {
	t.Helper()
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", name, body)
	return ""
}

// TestBudgetEvictsLongestWaiting fills the budget with idle keep-alive
// connections and a silent one, then connects more: each newcomer is
// served, and the connection answered longest ago is the one closed.
func TestBudgetEvictsLongestWaiting(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns = 3
	srv, _, _ := startBudgetServer(t, cfg)
	addr := srv.Addr().String()

	idle1, idle2 := dial(t, addr), dial(t, addr)
	for i, c := range []*client{idle1, idle2} {
		if code, _ := c.get("/alpacas"); code != 200 {
			t.Fatalf("status %d", code)
		}
		waitPhase(t, srv, phaseIdle, i+1)
	}
	silent := dial(t, addr) // sends nothing
	waitPhase(t, srv, phaseNew, 1)

	newcomer := dial(t, addr)
	if code, body := newcomer.get("/llamas"); code != 200 || body != "I love llamas!\n" {
		t.Fatalf("newcomer at the budget: %d %q", code, body)
	}
	waitPhase(t, srv, phaseIdle, 2)
	if !idle1.closedByServer(2 * time.Second) {
		t.Fatal("the connection answered longest ago was not closed")
	}
	// The others stay open and keep working.
	if code, _ := idle2.get("/alpacas"); code != 200 {
		t.Fatalf("idle2: %d", code)
	}
	waitPhase(t, srv, phaseIdle, 2)
	if code, _ := silent.get("/alpacas"); code != 200 {
		t.Fatalf("silent: %d", code)
	}
	waitPhase(t, srv, phaseIdle, 3)
	// The metrics request is a newcomer too: it evicts the connection
	// answered longest ago now, newcomer.
	if got := metric(t, addr, "echo_app_connections_evicted_total"); got != "echo_app_connections_evicted_total 2" {
		t.Errorf("got %q, want 2 evictions", got)
	}
	if !newcomer.closedByServer(time.Second) {
		t.Error("the next connection answered longest ago was not closed")
	}
	if got := metric(t, addr, "echo_app_connections_refused_total"); got != "echo_app_connections_refused_total 0" {
		t.Errorf("got %q, want no refusals", got)
	}
}

// TestBudgetOrder: at the budget, idle connections go first, then one
// silent for longer than the grace, then those sending headers, longest
// first, then one silent for less than the grace.
func TestBudgetOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns = 5
	srv, entered, release := blockingServer(t, cfg)
	addr := srv.Addr().String()

	oldSilent := dial(t, addr)
	waitPhase(t, srv, phaseNew, 1)
	time.Sleep(inFlightGrace)
	reading1 := dial(t, addr)
	reading1.send("GET /alpacas HTTP/1.1\r\n")
	waitPhase(t, srv, phaseReading, 1)
	reading2 := dial(t, addr)
	reading2.send("GET /alpacas HTTP/1.1\r\n")
	waitPhase(t, srv, phaseReading, 2)
	newSilent := dial(t, addr)
	waitPhase(t, srv, phaseNew, 2)
	idle := dial(t, addr)
	idle.get("/alpacas")
	waitPhase(t, srv, phaseIdle, 1)

	victims := []*client{idle, oldSilent, reading1, reading2, newSilent}
	var newcomers []*client
	for i, victim := range victims {
		// Each newcomer's request stays in the handler: it is never a
		// candidate, and the next newcomer must take another place.
		newcomer := dial(t, addr)
		newcomer.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-entered
		newcomers = append(newcomers, newcomer)
		if !victim.closedByServer(2 * time.Second) {
			t.Fatalf("newcomer %d did not take the place of victim %d", i, i)
		}
	}
	close(release)
	for i, c := range newcomers {
		if code, _ := c.read(); code != 200 {
			t.Errorf("newcomer %d: %d", i, code)
		}
	}
}

// TestPipelinerYields: a connection that pipelines requests, at the
// budget with a newcomer waiting, is answered pipelineRun of them in a row
// and then yields its place; the newcomer is answered. Without a newcomer,
// a pipeliner is answered every request it sends.
func TestPipelinerYields(t *testing.T) {
	const sent = 3 * pipelineRun
	cfg := DefaultConfig()
	cfg.MaxConns = 1
	srv, entered, release := blockingServer(t, cfg)
	addr := srv.Addr().String()

	pipeliner := dial(t, addr)
	var batch strings.Builder
	batch.WriteString("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 1; i < sent; i++ {
		fmt.Fprintf(&batch, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	pipeliner.send(batch.String())
	<-entered
	newcomer := dial(t, addr)
	newcomer.send("GET /llamas HTTP/1.1\r\nHost: x\r\n\r\n")
	waitWaiters(t, srv, 1)
	close(release)

	// The run is the request that blocked and pipelineRun-1 after it;
	// the next one yields, unanswered.
	answered := 0
	pipeliner.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		resp, err := http.ReadResponse(pipeliner.r, nil)
		if err != nil {
			break
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		answered++
	}
	if answered != pipelineRun {
		t.Errorf("a pipeliner with a newcomer waiting was answered %d of %d requests, want %d", answered, sent, pipelineRun)
	}
	if code, body := newcomer.read(); code != 200 || body != "I love llamas!\n" {
		t.Errorf("newcomer: %d %q", code, body)
	}

	// With no newcomer, every pipelined request is answered.
	alone := dial(t, addr) // evicts the newcomer, idle
	batch.Reset()
	for i := range sent {
		fmt.Fprintf(&batch, "GET /q%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	alone.send(batch.String())
	for i := range sent {
		if code, body := alone.read(); code != 200 || body != fmt.Sprintf("I love q%d!\n", i) {
			t.Fatalf("pipelined request %d alone: %d %q", i, code, body)
		}
	}
}

// waitWaiters waits until want newcomers wait for room.
func waitWaiters(t *testing.T, srv *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		srv.conns.mu.Lock()
		n := srv.conns.waiters
		srv.conns.mu.Unlock()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d newcomers wait for room, want %d", n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// blockingServer serves the shipped handler with cfg, except that a request
// for /block stays in the handler until release is closed.
func blockingServer(t *testing.T, cfg Config) (srv *Server, entered chan struct{}, release chan struct{}) {
	t.Helper()
	srv, _, _ = startBudgetServer(t, cfg)
	h := srv.http.Handler
	entered, release = make(chan struct{}, 100), make(chan struct{})
	srv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
			r.URL.Path = "/alpacas"
		}
		h.ServeHTTP(w, r)
	})
	return srv, entered, release
}

// TestBudgetRefusesWhenAllBusy fills the budget with requests being
// answered: a newcomer is closed at once, not left waiting, and the
// requests in progress are all answered.
func TestBudgetRefusesWhenAllBusy(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns = 2
	srv, entered, release := blockingServer(t, cfg)
	addr := srv.Addr().String()

	busy := []*client{dial(t, addr), dial(t, addr)}
	for _, c := range busy {
		c.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
		<-entered
	}

	newcomer := dial(t, addr)
	began := time.Now()
	newcomer.send("GET /llamas HTTP/1.1\r\nHost: x\r\n\r\n")
	if !newcomer.closedByServer(2 * time.Second) {
		t.Fatal("a newcomer at a full budget was not closed")
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("the newcomer waited %s to be refused", d)
	}
	close(release)
	for i, c := range busy {
		if code, body := c.read(); code != 200 || body != "I love alpacas!\n" {
			t.Fatalf("request %d in progress: %d %q", i, code, body)
		}
	}
	// Both are idle now: the metrics request evicts one of them.
	waitPhase(t, srv, phaseIdle, 2)
	if got := metric(t, addr, "echo_app_connections_refused_total"); got != "echo_app_connections_refused_total 1" {
		t.Errorf("got %q, want 1 refusal", got)
	}
}

// TestConnectionMetrics checks the gauges of open connections by phase.
func TestConnectionMetrics(t *testing.T) {
	srv, _, _ := startBudgetServer(t, DefaultConfig())
	addr := srv.Addr().String()
	idle := dial(t, addr)
	idle.get("/alpacas")
	dial(t, addr) // new
	partial := dial(t, addr)
	partial.send("GET /alpacas HTTP/1.1\r\n")
	waitPhase(t, srv, phaseNew, 1)
	waitPhase(t, srv, phaseReading, 1)
	waitPhase(t, srv, phaseIdle, 1)

	// The metrics request is the active one.
	_, body := dial(t, addr).get(MetricsPath)
	for name, want := range map[string]string{
		`echo_app_connections{state="new"}`:      "1",
		`echo_app_connections{state="reading"}`:  "1",
		`echo_app_connections{state="active"}`:   "1",
		`echo_app_connections{state="answered"}`: "0",
		`echo_app_connections{state="idle"}`:     "1",
		"echo_app_connections_max":               "10000",
	} {
		if got := metricLine(t, body, name); got != name+" "+want {
			t.Errorf("got %q, want %s", got, want)
		}
	}
}

// TestShutdownClosesWaitingConnections: connections with no request in
// progress do not hold up shutdown, whatever the shutdown timeout.
func TestShutdownClosesWaitingConnections(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(c *client)
	}{
		{"silent", func(c *client) {}},
		{"idle keep-alive", func(c *client) { c.get("/alpacas") }},
		{"still sending the body of an answered request", func(c *client) {
			c.send("GET /alpacas HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
			if code, _ := c.read(); code != 200 {
				c.t.Fatalf("status %d", code)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ShutdownTimeout = 5 * time.Second
			srv, cancel, served := startBudgetServer(t, cfg)
			c := dial(t, srv.Addr().String())
			tt.setup(c)
			time.Sleep(50 * time.Millisecond)
			began := time.Now()
			cancel()
			select {
			case err := <-served:
				served <- err // for the cleanup
				if err != nil {
					t.Fatalf("Serve = %v, want nil: no request was in progress", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("shutdown waited for a connection with no request in progress")
			}
			if d := time.Since(began); d > time.Second {
				t.Errorf("shutdown took %s", d)
			}
		})
	}
}

// TestShutdownAnswersHeadersInProgress: a request whose headers are in
// progress when shutdown starts, and complete a second later, well within
// the shutdown timeout, is answered, with Connection: close.
func TestShutdownAnswersHeadersInProgress(t *testing.T) {
	for _, keepAlive := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep-alive=%v", keepAlive), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ShutdownTimeout = 5 * time.Second
			srv, cancel, served := startBudgetServer(t, cfg)
			c := dial(t, srv.Addr().String())
			if keepAlive {
				c.get("/alpacas")
			}
			c.send("GET /llamas HTTP/1.1\r\nHost: x\r\n")
			waitPhase(t, srv, phaseReading, 1)
			cancel()
			time.Sleep(time.Second)
			c.send("\r\n")
			c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(c.r, nil)
			if err != nil {
				t.Fatalf("the request completed during shutdown was not answered: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "I love llamas!\n" || !resp.Close {
				t.Errorf("got %d %q, close %v; want 200, the greeting and Connection: close", resp.StatusCode, body, resp.Close)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
			served <- nil
		})
	}
}

// TestShutdownPartialHeadersNotCutOff: a connection still sending its
// headers when the shutdown timeout ends is closed, but no response was
// begun, so Serve reports no cut-off request.
func TestShutdownPartialHeadersNotCutOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ShutdownTimeout = 300 * time.Millisecond
	srv, cancel, served := startBudgetServer(t, cfg)
	c := dial(t, srv.Addr().String())
	c.send("GET /alpacas HTTP/1.1\r\n")
	time.Sleep(50 * time.Millisecond)
	cancel()
	err := <-served
	served <- err
	if err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	if !c.closedByServer(time.Second) {
		t.Error("the connection stayed open after shutdown")
	}
}
