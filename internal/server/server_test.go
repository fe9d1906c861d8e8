package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownCompletesInFlightRequest holds a request in the handler while
// shutdown starts, and checks the order of events: readiness turns 503 at
// once, the listener closes after the drain delay, the request gets its
// whole response, and Serve returns nil.
func TestShutdownCompletesInFlightRequest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DrainDelay = 200 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
	h := newTestHandler()
	srv, err := Listen(cfg, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// A request to /slow/... stays in the handler until released.
	entered, release := make(chan struct{}), make(chan struct{})
	srv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
			r.URL.Path = "/alpacas"
		}
		h.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	base := "http://" + srv.Addr().String()

	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(body), err}
	}()
	<-entered
	cancel()

	// Readiness turns at once, while the listener still accepts.
	deadline := time.Now().Add(time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz during the drain delay: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not turn 503")
		}
	}
	// Then the listener closes, with the request still in the handler.
	for {
		c, err := net.DialTimeout("tcp", srv.Addr().String(), 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline.Add(2 * time.Second)) {
			t.Fatal("listener still open long after the drain delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}

	close(release)
	r := <-slow
	if r.err != nil || r.status != 200 || r.body != "I love alpacas!\n" {
		t.Fatalf("in-flight request: %d %q %v", r.status, r.body, r.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
}

// TestShutdownTimeout checks that a request that outlives the shutdown
// timeout makes Serve return an error instead of hanging.
func TestShutdownTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 100 * time.Millisecond
	srv, err := Listen(cfg, newTestHandler(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	srv.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	go http.Get("http://" + srv.Addr().String() + "/stuck")
	<-entered
	cancel()
	select {
	case err := <-served:
		if err == nil {
			t.Fatal("Serve = nil with a request stuck past the shutdown timeout")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve hung past the shutdown timeout")
	}
}
