package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that run's logger and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// instance is echo_app running in this process through run.
type instance struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs echo_app on a free loopback port with the given extra flags,
// reads the bound address from its startup log line and waits until
// /healthz answers.
func start(t *testing.T, flags ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args := append([]string{"echo_app", "-listen", "127.0.0.1:0", "-log-format", "json"}, flags...)
	go func() { in.done <- run(ctx, args, envOf(nil), io.Discard, in.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-in.done:
		case <-time.After(15 * time.Second):
			t.Error("run did not return after cancel")
		}
	})

	deadline := time.Now().Add(5 * time.Second)
	for in.addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in the log:\n%s", in.stderr)
		}
		select {
		case err := <-in.done:
			t.Fatalf("run returned early: %v\n%s", err, in.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		for _, line := range strings.Split(in.stderr.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				in.addr = entry.Addr
			}
		}
	}
	for {
		resp, err := http.Get("http://" + in.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return in
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never answered 200: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestEndToEnd(t *testing.T) {
	in := start(t)
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/alpacas", 200, "I love alpacas!\n"},
		{"/ice%20cream", 200, "I love ice cream!\n"},
		{"/caf%C3%A9", 200, "I love café!\n"},
		{"/readyz", 200, "ready\n"},
		{"/a/b", 404, "Not Found: a noun is one path segment, like /alpacas\n"},
		{"/%1B", 400, "Bad Request: a noun must be valid UTF-8 in Unicode NFC, without control, invisible or bidirectional formatting characters\n"},
	} {
		status, body := get(t, "http://"+in.addr+c.path)
		if status != c.status || body != c.body {
			t.Errorf("GET %s = %d %q, want %d %q", c.path, status, body, c.status, c.body)
		}
	}

	// Headers over the limit get 431 from net/http once MaxHeaderBytes is set.
	req, _ := http.NewRequest("GET", "http://"+in.addr+"/alpacas", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: status %d, want 431", resp.StatusCode)
	}
}

// TestShutdown cancels run's context, as SIGTERM does, and checks that
// readiness turns 503 during the drain delay and that run returns nil.
// The server package's tests hold a request in flight across a shutdown.
func TestShutdown(t *testing.T) {
	in := start(t, "-drain-delay", "300ms", "-shutdown-timeout", "5s")
	in.cancel()
	status, _ := get(t, "http://"+in.addr+"/readyz")
	if status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during shutdown = %d, want 503", status)
	}
	select {
	case err := <-in.done:
		if err != nil {
			t.Fatalf("run returned %v, want nil\n%s", err, in.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return 5s after cancel")
	}
	in.done <- nil // for the cleanup
	log := in.stderr.String()
	if !strings.Contains(log, `"msg":"shutting down"`) || !strings.Contains(log, `"msg":"stopped"`) {
		t.Errorf("log lacks the shutdown lines:\n%s", log)
	}
}

// TestSlowHeadersDisconnected trickles header bytes and checks that the
// server closes the connection once the header timeout passes.
func TestSlowHeadersDisconnected(t *testing.T) {
	in := start(t, "-read-header-timeout", "300ms")
	conn, err := net.Dial("tcp", in.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /alpacas HTTP/1.1\r\nHost: localhost\r\n")

	// The server closes the connection once the header timeout passes,
	// perhaps after a 400 of its own: never with a greeting.
	began := time.Now()
	closed := make(chan []byte, 1)
	go func() {
		got, _ := io.ReadAll(conn)
		closed <- got
	}()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-closed:
			if strings.Contains(string(got), "I love") {
				t.Fatalf("server answered a request whose headers never ended: %q", got)
			}
			if elapsed := time.Since(began); elapsed > 2*time.Second {
				t.Errorf("closed after %v, want about 300ms", elapsed)
			}
			return
		case <-ticker.C:
			io.WriteString(conn, "X") // one more header byte, never a line end
		case <-timeout:
			t.Fatal("slow client still connected after 5s")
		}
	}
}

func TestAccessLog(t *testing.T) {
	in := start(t, "-access-log")
	get(t, "http://"+in.addr+"/alpacas")
	if resp, err := http.Head("http://" + in.addr + "/alpacas"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for strings.Count(in.stderr.String(), `"path":"/alpacas"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for /alpacas:\n%s", in.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(in.stderr.String(), "\n") {
		if !strings.Contains(line, `"path":"/alpacas"`) {
			continue
		}
		var entry struct {
			Method, Path, Remote string
			Status, Bytes        int
			Duration             int64
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatal(err)
		}
		want := 16
		if entry.Method == "HEAD" {
			want = 0 // net/http sends no body for HEAD
		}
		if entry.Status != 200 || entry.Bytes != want || entry.Remote == "" {
			t.Errorf("access log entry = %+v, want %d bytes", entry, want)
		}
	}
}

func TestHealthcheck(t *testing.T) {
	in := start(t)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"echo_app", "-healthcheck", "-listen", in.addr}, envOf(nil), &stdout, io.Discard)
	if err != nil || stdout.String() != "healthy\n" {
		t.Errorf("healthcheck of a running server: %v, %q", err, stdout.String())
	}

	// The configured port decides where the check goes, as in a container
	// where only PORT is set.
	_, port, _ := net.SplitHostPort(in.addr)
	err = run(context.Background(), []string{"echo_app", "-healthcheck"}, envOf(map[string]string{"PORT": port}), io.Discard, io.Discard)
	if err != nil {
		t.Errorf("healthcheck with PORT=%s: %v", port, err)
	}

	// A specific host is checked where it is: a server on IPv6 loopback
	// alone is not reached through 127.0.0.1.
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		v6 := start(t, "-listen", ln.Addr().String())
		if err := run(context.Background(), []string{"echo_app", "-healthcheck", "-listen", v6.addr}, envOf(nil), io.Discard, io.Discard); err != nil {
			t.Errorf("healthcheck of a server on %s: %v", v6.addr, err)
		}
	} else if os.Getenv("CI") == "true" {
		t.Errorf("no IPv6 loopback: %v", err)
	}

	// Nothing listens on a port we just closed.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	free := ln.Addr().String()
	ln.Close()
	began := time.Now()
	err = run(context.Background(), []string{"echo_app", "-healthcheck", "-listen", free}, envOf(nil), io.Discard, io.Discard)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("healthcheck of nothing: %v, want exit status 1", err)
	}
	if time.Since(began) > 2500*time.Millisecond {
		t.Errorf("healthcheck took %v, want under 2s", time.Since(began))
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"echo_app", "-listen", ln.Addr().String()}, envOf(nil), io.Discard, io.Discard)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("port in use: %v, want exit status 1 naming the cause", err)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int    // 0: no error
		wantErr  string // part of the error, when wantCode != 0
		check    func(*testing.T, *options)
	}{
		{name: "defaults", check: func(t *testing.T, o *options) {
			if o.server.Addr != ":8080" || o.logFormat != "text" || o.accessLog {
				t.Errorf("defaults: %+v", o)
			}
		}},
		{name: "PORT", env: map[string]string{"PORT": "9090"}, check: func(t *testing.T, o *options) {
			if o.server.Addr != ":9090" {
				t.Errorf("Addr = %q, want :9090", o.server.Addr)
			}
		}},
		{name: "listen env beats PORT", env: map[string]string{"PORT": "9090", "ECHO_APP_LISTEN": "127.0.0.1:7070"}, check: func(t *testing.T, o *options) {
			if o.server.Addr != "127.0.0.1:7070" {
				t.Errorf("Addr = %q", o.server.Addr)
			}
		}},
		{name: "flag beats env", args: []string{"-listen", "[::1]:6060", "-log-format", "json"},
			env: map[string]string{"ECHO_APP_LISTEN": "127.0.0.1:7070", "ECHO_APP_LOG_FORMAT": "text"},
			check: func(t *testing.T, o *options) {
				if o.server.Addr != "[::1]:6060" || o.logFormat != "json" {
					t.Errorf("Addr = %q, format %q", o.server.Addr, o.logFormat)
				}
			}},
		{name: "durations from env", env: map[string]string{"ECHO_APP_SHUTDOWN_TIMEOUT": "3s", "ECHO_APP_DRAIN_DELAY": "1s", "ECHO_APP_ACCESS_LOG": "true"},
			check: func(t *testing.T, o *options) {
				if o.server.ShutdownTimeout != 3*time.Second || o.server.DrainDelay != time.Second || !o.accessLog {
					t.Errorf("options = %+v", o)
				}
			}},
		{name: "bad PORT", env: map[string]string{"PORT": "abc"}, wantCode: 2, wantErr: `invalid PORT "abc"`},
		{name: "PORT out of range", env: map[string]string{"PORT": "70000"}, wantCode: 2, wantErr: `invalid PORT "70000"`},
		{name: "unknown flag", args: []string{"-bogus"}, wantCode: 2, wantErr: "flag provided but not defined: -bogus"},
		{name: "bad duration env", env: map[string]string{"ECHO_APP_READ_TIMEOUT": "soon"}, wantCode: 2, wantErr: "invalid ECHO_APP_READ_TIMEOUT"},
		{name: "bad log format", args: []string{"-log-format", "xml"}, wantCode: 2, wantErr: "invalid -log-format"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantCode: 2, wantErr: "log-level"},
		{name: "log level offset", args: []string{"-log-level", "INFO+2"}, wantCode: 2, wantErr: "want debug, info, warn or error"},
		{name: "log level from env, any case", env: map[string]string{"ECHO_APP_LOG_LEVEL": "WARN"}, check: func(t *testing.T, o *options) {
			if o.logLevel != slog.LevelWarn {
				t.Errorf("level = %v", o.logLevel)
			}
		}},
		{name: "max conns", env: map[string]string{"ECHO_APP_MAX_CONNS": "500"}, check: func(t *testing.T, o *options) {
			if o.server.MaxConns != 500 {
				t.Errorf("MaxConns = %d", o.server.MaxConns)
			}
		}},
		{name: "negative max conns", args: []string{"-max-conns", "-1"}, wantCode: 2, wantErr: "invalid -max-conns"},
		{name: "bad listen", args: []string{"-listen", "8080"}, wantCode: 2, wantErr: "invalid -listen"},
		{name: "negative timeout", args: []string{"-write-timeout", "-1s"}, wantCode: 2, wantErr: "invalid -write-timeout"},
		{name: "stray argument", args: []string{"extra"}, wantCode: 2, wantErr: "unexpected argument"},
		{name: "max header bytes that overflow", args: []string{"-max-header-bytes", "9223372036854775807"}, wantCode: 2, wantErr: "invalid -max-header-bytes 9223372036854775807: want a number from 1 to 1048576"},
		{name: "write timeout too short to serve", args: []string{"-write-timeout", "1ns"}, wantCode: 2, wantErr: "invalid -write-timeout 1ns: want a duration of at least 1ms"},
		{name: "header timeout too short to serve", args: []string{"-read-header-timeout", "1ns"}, wantCode: 2, wantErr: "invalid -read-header-timeout 1ns"},
		{name: "timeout from env named by its variable", env: map[string]string{"ECHO_APP_IDLE_TIMEOUT": "1us"}, wantCode: 2, wantErr: "invalid ECHO_APP_IDLE_TIMEOUT 1µs"},
		{name: "log level with a non-ASCII capital", args: []string{"-log-level", "\u0130NFO"}, wantCode: 2, wantErr: "want debug, info, warn or error"},
		{name: "too many conns", args: []string{"-max-conns", "2000000"}, wantCode: 2, wantErr: "invalid -max-conns 2000000: want 0 for the default, or a number from 1 to 1048576"},
		{name: "flag beats a bad env", args: []string{"-max-conns", "100"}, env: map[string]string{"ECHO_APP_MAX_CONNS": "abc"}, check: func(t *testing.T, o *options) {
			if o.server.MaxConns != 100 {
				t.Errorf("MaxConns = %d, want 100 from the command line", o.server.MaxConns)
			}
		}},
		{name: "listen flag beats a bad PORT", args: []string{"-listen", "127.0.0.1:7070"}, env: map[string]string{"PORT": "abc"}, check: func(t *testing.T, o *options) {
			if o.server.Addr != "127.0.0.1:7070" {
				t.Errorf("Addr = %q", o.server.Addr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(append([]string{"echo_app"}, tt.args...), envOf(tt.env), io.Discard)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, o)
				return
			}
			var exit *exitError
			if !errors.As(err, &exit) || exit.code != tt.wantCode {
				t.Fatalf("err = %v, want exit status %d", err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"echo_app", "-help"}, envOf(nil), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-listen", "[$ECHO_APP_LISTEN]", "-healthcheck", "PORT"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("-help lacks %q:\n%s", want, stdout.String())
		}
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"echo_app", "-version"}, envOf(nil), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "echo_app ") || !strings.Contains(stdout.String(), "go1.") {
		t.Errorf("-version = %q", stdout.String())
	}
}

func TestModesIgnoreEnvironment(t *testing.T) {
	o, err := parseOptions([]string{"echo_app"}, envOf(map[string]string{"ECHO_APP_HEALTHCHECK": "true", "ECHO_APP_VERSION": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.healthcheck || o.version {
		t.Errorf("a mode was switched on from the environment: %+v", o)
	}
}
