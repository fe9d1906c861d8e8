package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rastringer/docker_multistage/internal/peerclose"
)

// The budget under abuse: clients that hold a connection while sending
// almost nothing, at ten times the budget, and live clients that send
// their request in one packet beside them: attackers over raw TCP, live
// clients with curl.

// attacker is one kind of client that holds a connection cheaply. Each
// runs on its connection until the server closes it or stop is closed.
type attacker struct {
	name string
	run  func(c net.Conn, stop <-chan struct{})
}

// trickle writes one byte of s every interval until stop, the end of s,
// or an error.
func trickle(c net.Conn, s string, interval time.Duration, stop <-chan struct{}) {
	for i := 0; i < len(s); i++ {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
	}
}

// answerThen sends a complete request, reads its answer, and hands the
// connection to then.
func answerThen(request string, then func(c net.Conn, stop <-chan struct{})) func(net.Conn, <-chan struct{}) {
	return func(c net.Conn, stop <-chan struct{}) {
		if _, err := io.WriteString(c, request); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return
		}
		resp.Body.Close()
		c.SetReadDeadline(time.Time{})
		then(c, stop)
	}
}

// waitClosed waits until the server closes c or stop is closed.
func waitClosed(c net.Conn, stop <-chan struct{}) {
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(done)
	}()
	select {
	case <-done:
	case <-stop:
	}
}

var (
	slowloris = attacker{"slowloris: one header byte every 100 ms", func(c net.Conn, stop <-chan struct{}) {
		trickle(c, "GET /alpacas HTTP/1.1\r\nHost: x\r\nX-Padding: "+strings.Repeat("a", 1000), 100*time.Millisecond, stop)
		waitClosed(c, stop)
	}}
	silent = attacker{"silent: connects and sends nothing", func(c net.Conn, stop <-chan struct{}) {
		waitClosed(c, stop)
	}}
	threeBytes = attacker{"keep-alive, then three bytes of the next request", answerThen("GET /alpacas HTTP/1.1\r\nHost: x\r\n\r\n", func(c net.Conn, stop <-chan struct{}) {
		io.WriteString(c, "GET")
		waitClosed(c, stop)
	})}
	bodyAfterAnswer = attacker{"answered, still trickling a body", answerThen("POST /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx", func(c net.Conn, stop <-chan struct{}) {
		trickle(c, strings.Repeat("x", 1000), 100*time.Millisecond, stop)
		waitClosed(c, stop)
	})}
)

// attack runs n clients of the kinds given, in turn, each reconnecting
// as soon as the server closes it, until the returned stop is called.
func attack(t *testing.T, addr string, n int, kinds ...attacker) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		kind := kinds[i%len(kinds)]
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				kind.run(c, done)
				c.Close()
			}
		})
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// curlGet asks for path with curl, a client of its own process that
// sends its request at once, as real clients do, and returns the body of
// a 200 answer, or an error.
func curlGet(t *testing.T, curl, addr, path string) (string, error) {
	out, err := exec.Command(curl, "-sS", "--fail", "-m", "5", "http://"+addr+path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// lookCurl finds curl; outside CI, a missing one skips the test.
func lookCurl(t *testing.T) string {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is missing (scripts/install-deps.sh installs it)")
		}
		t.Skip("curl is missing (apt-get install curl)")
	}
	return curl
}

// TestBudgetUnderAbuse fills a budget of 64 with ten times as many clients
// of each kind that hold a connection while sending almost nothing, and a
// mix of them; live clients that send their request in one packet are
// answered, the health check included: 99% of them at least, the floor
// the budget is held to (a newcomer whose request has not arrived by the
// time 64 newer connections have come can be the one closed).
func TestBudgetUnderAbuse(t *testing.T) {
	const budget, live = 64, 100
	curl := lookCurl(t)
	for _, kinds := range [][]attacker{
		{slowloris}, {silent}, {threeBytes}, {bodyAfterAnswer},
		{slowloris, silent, threeBytes, bodyAfterAnswer},
	} {
		var names []string
		for _, k := range kinds {
			names = append(names, k.name)
		}
		t.Run(strings.Join(names, " + "), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxConns = budget
			srv, _, _ := startBudgetServer(t, cfg)
			addr := srv.Addr().String()
			stop := attack(t, addr, 10*budget, kinds...)
			waitOpen(t, srv, budget)
			time.Sleep(300 * time.Millisecond) // the attackers settle in

			failed := 0
			for i := range live {
				path, want := fmt.Sprintf("/live%d", i), fmt.Sprintf("I love live%d!\n", i)
				if i%10 == 9 {
					path, want = HealthPath, "ok\n"
				}
				body, err := curlGet(t, curl, addr, path)
				if err == nil && body != want {
					err = fmt.Errorf("body %q", body)
				}
				if err != nil {
					failed++
					t.Logf("live request %d: %v", i, err)
				}
			}
			stop()
			t.Logf("%d evictions, %d refusals", srv.conns.evicted.Load(), srv.conns.refused.Load())
			if failed > live/100 {
				t.Errorf("%d of %d live requests failed beside %d attackers at a budget of %d", failed, live, 10*budget, budget)
			}
		})
	}
}

// waitOpen waits until the budget is full.
func waitOpen(t *testing.T, srv *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.conns.mu.Lock()
		open := srv.conns.open
		srv.conns.mu.Unlock()
		if open >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", open, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHeaderTimeoutFromFirstByte: on a keep-alive connection, the header
// timeout runs from the first byte of the next request, not from when
// net/http has four of them, and not the idle timeout.
func TestHeaderTimeoutFromFirstByte(t *testing.T) {
	for _, tt := range []struct {
		name string
		send func(c *client)
	}{
		{"three bytes and silence", func(c *client) { c.send("GET") }},
		{"one byte every 100 ms", func(c *client) {
			go trickle(c.conn, "GET /alpacas HTTP/1.1\r\nHost: x\r\nX: "+strings.Repeat("a", 100), 100*time.Millisecond, nil)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ReadHeaderTimeout = 500 * time.Millisecond
			srv, _, _ := startBudgetServer(t, cfg)
			c := dial(t, srv.Addr().String())
			if code, _ := c.get("/alpacas"); code != 200 {
				t.Fatalf("status %d", code)
			}
			began := time.Now()
			tt.send(c)
			// net/http closes the connection, after a 400 if the timeout
			// came in the middle of the request line; a byte trickled
			// in after its last read makes that close a reset.
			c.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.Copy(io.Discard, c.r); err != nil && !isReset(err) {
				t.Fatalf("connection still open %s after the first byte of its next request, with a header timeout of %s: %v", time.Since(began), cfg.ReadHeaderTimeout, err)
			}
			if d := time.Since(began); d < 400*time.Millisecond || d > 1500*time.Millisecond {
				t.Errorf("closed %s after the first byte, want about %s", d, cfg.ReadHeaderTimeout)
			}
		})
	}
}

// TestPipelinedPartialRequestKept: the start of a request pipelined after
// another is in the server's buffer; a flood that forces evictions does not
// take that connection, and the request is answered once its end comes.
func TestPipelinedPartialRequestKept(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns = 8
	srv, _, _ := startBudgetServer(t, cfg)
	addr := srv.Addr().String()

	c := dial(t, addr)
	second := "GET /llamas HTTP/1.1\r\nHost: x\r\n\r\n"
	c.send("GET /alpacas HTTP/1.1\r\nHost: x\r\n\r\n" + second[:20])
	if code, body := c.read(); code != 200 || body != "I love alpacas!\n" {
		t.Fatalf("first: %d %q", code, body)
	}
	waitPhase(t, srv, phaseReading, 1)
	// A flood of clients that each send a request and stay, and of
	// silent ones: 40 evictions at a budget of 8.
	for i := range 48 {
		f := dial(t, addr)
		if i%2 == 0 {
			if code, _ := f.get("/flood"); code != 200 {
				t.Fatalf("flood %d: %d", i, code)
			}
		}
	}
	c.send(second[20:])
	if code, body := c.read(); code != 200 || body != "I love llamas!\n" {
		t.Fatalf("pipelined: %d %q", code, body)
	}
}

// TestNoRequestLostToEviction: keep-alive clients, some pipelining two
// requests at a time, beside a flood that forces evictions. Every request
// the server answered, by its access log, reached its client.
func TestNoRequestLostToEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConns = 16
	cfg.Addr = "127.0.0.1:0"
	var log lockedBuffer
	srv, err := Listen(cfg, NewHandler("test", "", "", slog.New(slog.NewTextHandler(&log, nil))), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	addr := srv.Addr().String()

	stop := attack(t, addr, 32, silent, threeBytes)
	var received sync.Map
	var wg sync.WaitGroup
	var reconnects atomic.Int64
	for client := range 24 {
		wg.Go(func() {
			var conn net.Conn
			var r *bufio.Reader
			for req := 0; req < 40; {
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", addr); err != nil {
						continue
					}
					r = bufio.NewReader(conn)
				}
				// Two requests in one write on odd clients.
				n := 1 + client%2
				var batch strings.Builder
				for i := range n {
					fmt.Fprintf(&batch, "GET /c%dr%d HTTP/1.1\r\nHost: x\r\n\r\n", client, req+i)
				}
				req += n
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.WriteString(conn, batch.String()); err != nil {
					conn.Close()
					conn = nil
					reconnects.Add(1)
					continue
				}
				for range n {
					resp, err := http.ReadResponse(r, nil)
					if err != nil {
						conn.Close()
						conn = nil
						reconnects.Add(1)
						break
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					received.Store(strings.TrimSuffix(strings.TrimPrefix(string(body), "I love "), "!\n"), true)
				}
				time.Sleep(time.Duration(client%5) * time.Millisecond)
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
	wg.Wait()
	stop()
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}

	handled := regexp.MustCompile(`path=/(c\d+r\d+) status=200`).FindAllStringSubmatch(log.String(), -1)
	lost := 0
	for _, m := range handled {
		if _, ok := received.Load(m[1]); !ok {
			lost++
			t.Errorf("request %s was answered by the server, never received by its client", m[1])
		}
	}
	evicted := srv.conns.evicted.Load()
	t.Logf("%d requests answered, %d lost, %d evictions, %d client reconnects", len(handled), lost, evicted, reconnects.Load())
	if evicted < 100 {
		t.Errorf("only %d evictions: the flood did not force enough", evicted)
	}
}

// pipelinerNotReading sends n pipelined requests for /metrics and never
// reads an answer: the server's writes fill the socket buffers and block.
func pipelinerNotReading(n int) attacker {
	batch := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", n)
	return attacker{fmt.Sprintf("%d pipelined requests, no answer read", n), func(c net.Conn, stop <-chan struct{}) {
		io.WriteString(c, batch)
		select {
		case <-stop:
		case <-closedBy(c):
		}
	}}
}

// closedBy is closed once the server has closed c, which it tells
// without reading.
func closedBy(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		peerclose.Wait(context.Background(), c.(*net.TCPConn))
	}()
	return done
}

// TestPipelinersNotReading: clients that pipeline requests and stop
// reading their answers, at the budget and at ten times it, leave room for
// live clients and for the health check: a connection whose answers wait
// on a client that takes none is evicted once its write has waited
// writeGrace.
func TestPipelinersNotReading(t *testing.T) {
	const budget, live = 32, 100
	curl := lookCurl(t)
	for _, attackers := range []int{budget + 2, 10 * budget} {
		t.Run(fmt.Sprintf("%d attackers", attackers), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxConns = budget
			srv, _, _ := startBudgetServer(t, cfg)
			addr := srv.Addr().String()
			stop := attack(t, addr, attackers, pipelinerNotReading(2000))
			waitOpen(t, srv, budget)
			time.Sleep(300 * time.Millisecond) // the attackers settle in
			t.Logf("kernel memory of the server's connections: %s", serverSocketMemory(t, addr))

			// Four live clients at a time, each a request then, every
			// tenth, a health check.
			var (
				mu                sync.Mutex
				failed, unhealthy int
				took              []time.Duration
				next              atomic.Int64
				wg                sync.WaitGroup
			)
			for range 4 {
				wg.Go(func() {
					for i := int(next.Add(1)) - 1; i < live; i = int(next.Add(1)) - 1 {
						began := time.Now()
						body, err := curlGet(t, curl, addr, fmt.Sprintf("/live%d", i))
						if err == nil && body != fmt.Sprintf("I love live%d!\n", i) {
							err = fmt.Errorf("body %q", body)
						}
						var probeErr error
						if i%10 == 9 {
							ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
							probeErr = Probe(ctx, addr)
							cancel()
						}
						mu.Lock()
						took = append(took, time.Since(began))
						if err != nil {
							failed++
							t.Logf("live request %d: %v", i, err)
						}
						if probeErr != nil {
							unhealthy++
							t.Logf("health check: %v", probeErr)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			stop()
			slices.Sort(took)
			t.Logf("%d evictions, %d refusals; live p50 %s, p99 %s", srv.conns.evicted.Load(), srv.conns.refused.Load(), took[len(took)/2], took[len(took)*99/100])
			if failed > live/100 || unhealthy > 0 {
				t.Errorf("%d of %d live requests failed and %d of %d health checks, beside %d clients that do not read, at a budget of %d", failed, live, unhealthy, live/10, attackers, budget)
			}
		})
	}
}

// serverSocketMemory sums the kernel's memory for the server's sockets on
// addr, as ss reports it (skmem: the receive queue's allocation and the send queue's),
// and says how many there are.
func serverSocketMemory(t *testing.T, addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("ss", "-tmnH", "state", "established", "sport", "= :"+port).Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ss: %v", err)
		}
		return "unknown (ss: " + err.Error() + ")"
	}
	var sockets, total, most int
	for _, m := range regexp.MustCompile(`skmem:\(r(\d+),rb\d+,t\d+,tb\d+,f\d+,w(\d+)`).FindAllStringSubmatch(string(out), -1) {
		n := 0
		for _, v := range m[1:] {
			x, _ := strconv.Atoi(v)
			n += x
		}
		sockets++
		total += n
		most = max(most, n)
	}
	return fmt.Sprintf("%d sockets, %d KiB in all, at most %d KiB each", sockets, total>>10, most>>10)
}
