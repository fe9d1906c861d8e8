// Command hammer is the load and fault client of bench/reliability.sh. It
// sends traffic to loopback only, and every mode stops by itself.
//
//	hammer idle     -addr A -pid P -conns N          hold N idle keep-alive connections, probe, report RSS
//	hammer flood    -addr A -pid P -conns N -silent M open N connections that send one request and M that send nothing, hold them all; live client, peak RSS
//	hammer probe    -url U -duration D               GET every interval; availability and latency
//	hammer abuse    -addr A -kind K -conns N -duration D   N clients that hold connections while sending almost nothing, reconnecting when closed
//	hammer shutdown -addr A [-stop CMD] -- SERVER... start SERVER, load it, stop it, classify every request
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rastringer/docker_multistage/internal/peerclose"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hammer idle|flood|probe|abuse|shutdown [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "idle":
		err = idle(os.Args[2:])
	case "flood":
		err = flood(os.Args[2:])
	case "probe":
		err = probe(os.Args[2:])
	case "abuse":
		err = abuse(os.Args[2:])
	case "shutdown":
		err = shutdown(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "hammer: %v\n", err)
		os.Exit(1)
	}
}

// loopbackOnly refuses any address that is not on this machine.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address: hammer only targets this machine", addr)
	}
	return nil
}

const request = "GET /alpacas HTTP/1.1\r\nHost: localhost\r\n\r\n"

func rssKiB(pid int) int64 { return statusKiB(pid, "VmRSS:") }

// anonKiB is the process's anonymous resident memory: what it allocated,
// without the pages of its binary it has run (file-backed, shared, and
// reclaimable by the kernel), which a flood's code paths add for good.
func anonKiB(pid int) int64 { return statusKiB(pid, "RssAnon:") }

// statusKiB reads a field in KiB from the process's /proc status.
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return -1
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// idle opens conns keep-alive connections, each with one answered request,
// holds them, and meanwhile times requests of a normal client.
func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback)")
	pid := fs.Int("pid", 0, "server process, for its RSS")
	conns := fs.Int("conns", 10000, "idle connections to hold")
	probes := fs.Int("probes", 2000, "requests of the normal client")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	before := rssKiB(*pid)

	held := make([]net.Conn, 0, *conns)
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	buf := make([]byte, 4096)
	for i := range *conns {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, request); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if _, err := c.Read(buf); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		held = append(held, c)
	}
	time.Sleep(time.Second)
	during := rssKiB(*pid)

	client := &http.Client{Timeout: 5 * time.Second}
	var latencies []time.Duration
	failed := 0
	for range *probes {
		start := time.Now()
		resp, err := client.Get("http://" + *addr + "/alpacas")
		if err != nil {
			failed++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failed++
			continue
		}
		latencies = append(latencies, time.Since(start))
	}

	// The held connections are still open and usable.
	alive := 0
	for _, c := range held[:min(100, len(held))] {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, request); err == nil {
			if _, err := c.Read(buf); err == nil {
				alive++
			}
		}
	}
	fmt.Printf("idle_conns=%d rss_before_kib=%d rss_held_kib=%d rss_per_conn_bytes=%.0f probes=%d probe_failed=%d probe_p50_ms=%s probe_p99_ms=%s probe_max_ms=%s sample_alive=%d/%d\n",
		len(held), before, during, float64(during-before)*1024/float64(len(held)),
		*probes, failed, ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99)), ms(percentile(latencies, 1)),
		alive, min(100, len(held)))
	return nil
}

// flood opens connections that each send one request and stay open, and
// connections that send nothing, as fast as workers can, and holds them
// all, while a live client sends a request every interval over keep-alive.
// It reports the server's peak RSS, what became of the flood's requests,
// the live client's latency and failures, and the RSS once the flood's
// connections are closed.
func flood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback)")
	pid := fs.Int("pid", 0, "server process, for its RSS")
	conns := fs.Int("conns", 10000, "connections that send one request and stay open")
	silent := fs.Int("silent", 2000, "connections that send nothing and stay open")
	workers := fs.Int("workers", 32, "connections opened at once")
	interval := fs.Duration("interval", 5*time.Millisecond, "time between the live client's requests")
	settle := fs.Duration("settle", 10*time.Second, "time to wait after closing everything before the last RSS reading")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	rssBefore, anonBefore := rssKiB(*pid), anonKiB(*pid)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var peak, anonPeak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for ctx.Err() == nil {
			if r := rssKiB(*pid); r > peak.Load() {
				peak.Store(r)
			}
			if r := anonKiB(*pid); r > anonPeak.Load() {
				anonPeak.Store(r)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// The live client: one keep-alive connection, as a real client keeps.
	type live struct {
		latencies []time.Duration
		failed    int
		lastErr   error
	}
	liveDone := make(chan live, 1)
	go func() {
		var l live
		client := &http.Client{Timeout: 5 * time.Second}
		for ctx.Err() == nil {
			start := time.Now()
			resp, err := client.Get("http://" + *addr + "/alpacas")
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				l.failed++
				l.lastErr = err
			} else {
				l.latencies = append(l.latencies, time.Since(start))
			}
			time.Sleep(*interval)
		}
		liveDone <- l
	}()

	var mu sync.Mutex
	held := make([]net.Conn, 0, *conns+*silent)
	hold := func(c net.Conn) {
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
	}
	var answered, closedEarly, dialFailed atomic.Int64
	began := time.Now()
	for range *silent {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			dialFailed.Add(1)
			continue
		}
		hold(c)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for next.Add(1) <= int64(*conns) {
				c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
				if err != nil {
					dialFailed.Add(1)
					continue
				}
				hold(c)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, request); err != nil {
					closedEarly.Add(1)
					continue
				}
				if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
					closedEarly.Add(1)
					continue
				}
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	floodTook := time.Since(began)
	time.Sleep(2 * time.Second) // everything held, the live client still at work
	stop()
	l := <-liveDone
	<-sampled

	var evicted, refused string
	if resp, err := http.Get("http://" + *addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for line := range strings.Lines(string(body)) {
			if v, ok := strings.CutPrefix(line, "echo_app_connections_evicted_total "); ok {
				evicted = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "echo_app_connections_refused_total "); ok {
				refused = strings.TrimSpace(v)
			}
		}
	}
	for _, c := range held {
		c.Close()
	}
	time.Sleep(*settle)
	rssAfter, anonAfter := rssKiB(*pid), anonKiB(*pid)

	fmt.Printf("flood_conns=%d silent_conns=%d flood_s=%.1f answered=%d closed_before_answer=%d dial_failed=%d evicted=%s refused=%s rss_before_kib=%d rss_peak_kib=%d rss_after_kib=%d anon_before_kib=%d anon_peak_kib=%d anon_after_kib=%d live_requests=%d live_failed=%d live_p50_ms=%s live_p99_ms=%s live_max_ms=%s\n",
		*conns, *silent, floodTook.Seconds(), answered.Load(), closedEarly.Load(), dialFailed.Load(), evicted, refused,
		rssBefore, peak.Load(), rssAfter, anonBefore, anonPeak.Load(), anonAfter,
		len(l.latencies)+l.failed, l.failed, ms(percentile(l.latencies, 0.5)), ms(percentile(l.latencies, 0.99)), ms(percentile(l.latencies, 1)))
	if l.failed > 0 {
		return fmt.Errorf("the live client failed %d requests, the last: %v", l.failed, l.lastErr)
	}
	return nil
}

// probe requests url every interval for duration and reports how many
// answered 200 and how fast.
func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080/alpacas", "URL to probe (loopback)")
	interval := fs.Duration("interval", 100*time.Millisecond, "time between requests")
	duration := fs.Duration("duration", 30*time.Second, "how long to probe")
	fs.Parse(args)
	host := strings.TrimPrefix(*url, "http://")
	host, _, _ = strings.Cut(host, "/")
	if err := loopbackOnly(host); err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	total, failed := 0, 0
	deadline := time.Now().Add(*duration)
	for time.Now().Before(deadline) {
		total++
		start := time.Now()
		resp, err := client.Get(*url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != 200 {
			failed++
		} else {
			latencies = append(latencies, time.Since(start))
		}
		time.Sleep(*interval)
	}
	fmt.Printf("probes=%d failed=%d available=%.2f%% p50_ms=%s p99_ms=%s max_ms=%s\n",
		total, failed, 100*float64(total-failed)/float64(total),
		ms(percentile(latencies, 0.5)), ms(percentile(latencies, 0.99)), ms(percentile(latencies, 1)))
	return nil
}

// outcome of one request during the shutdown test.
type outcome int

const (
	complete outcome = iota // a whole 200 response
	other                   // a whole response of another status
	refused                 // the dial failed: never accepted
	unsent                  // the connection closed before a byte of response: never read by the server
	partial                 // the connection broke after part of a response: a request lost
	numOutcomes
)

// shutdown starts the server command, loads it with keep-alive workers,
// stops it (SIGTERM, or the -stop command), and classifies every request.
func shutdown(args []string) error {
	fs := flag.NewFlagSet("shutdown", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback)")
	workers := fs.Int("workers", 64, "concurrent keep-alive clients")
	after := fs.Duration("after", 3*time.Second, "load time before the stop")
	stopCmd := fs.String("stop", "", "command that stops the server (default: SIGTERM to it)")
	limit := fs.Duration("limit", 30*time.Second, "give up when the server runs this long after the stop")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no server command after --")
	}

	server := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	server.Stdout, server.Stderr = os.Stderr, os.Stderr
	if err := server.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	if err := waitReady(*addr, 30*time.Second); err != nil {
		server.Process.Kill()
		return err
	}

	var counts [numOutcomes]atomic.Int64
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(ctx, *addr, &counts)
		}()
	}

	// Readiness: when /readyz first answers 503, and when the listener
	// first refuses a connection.
	var first503, firstRefused atomic.Int64
	go func() {
		client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for ctx.Err() == nil {
			resp, err := client.Get("http://" + *addr + "/readyz")
			now := time.Now().UnixNano()
			switch {
			case err != nil:
				var errno syscall.Errno
				if errors.As(err, &errno) && errno == syscall.ECONNREFUSED {
					firstRefused.CompareAndSwap(0, now)
				}
			default:
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					first503.CompareAndSwap(0, now)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	time.Sleep(*after)
	before := counts[complete].Load()
	stopAt := time.Now()
	if *stopCmd != "" {
		out, err := exec.Command("sh", "-c", *stopCmd).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", *stopCmd, err, out)
		}
	} else {
		server.Process.Signal(syscall.SIGTERM)
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(*limit):
		server.Process.Kill()
		return fmt.Errorf("the server still ran %v after the stop", *limit)
	}
	took := time.Since(stopAt)
	stopLoad()
	wg.Wait()

	code := 0
	var ee *exec.ExitError
	if errors.As(exitErr, &ee) {
		code = ee.ExitCode()
	} else if exitErr != nil {
		return exitErr
	}
	flipped := "unknown"
	if a, b := first503.Load(), firstRefused.Load(); a != 0 && b != 0 {
		flipped = strconv.FormatBool(a < b)
	} else if a != 0 {
		flipped = "true"
	}
	fmt.Printf("complete=%d complete_before_stop=%d other_status=%d refused=%d unsent=%d partial=%d exit_status=%d stop_to_exit_ms=%d readiness_503_before_listener_closed=%s\n",
		counts[complete].Load(), before, counts[other].Load(), counts[refused].Load(), counts[unsent].Load(), counts[partial].Load(),
		code, took.Milliseconds(), flipped)
	return nil
}

func waitReady(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer /healthz within %v", addr, within)
}

// worker sends requests over one keep-alive connection at a time,
// reconnecting when the server closes it, until ctx is done. A request
// whose connection closes before a byte of response came back was never
// read by the server (it closed the connection as idle); one whose
// response breaks off after some bytes is a request lost.
func worker(ctx context.Context, addr string, counts *[numOutcomes]atomic.Int64) {
	var conn net.Conn
	var cr *countingReader
	var r *bufio.Reader
	for ctx.Err() == nil {
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				counts[refused].Add(1)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn, cr = c, &countingReader{r: c}
			r = bufio.NewReader(cr)
		}
		conn.SetDeadline(time.Now().Add(15 * time.Second))
		cr.n = 0
		if _, err := io.WriteString(conn, request); err != nil {
			counts[unsent].Add(1)
			conn.Close()
			conn = nil
			continue
		}
		resp, err := http.ReadResponse(r, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		switch {
		case err != nil && cr.n == 0:
			counts[unsent].Add(1)
		case err != nil:
			counts[partial].Add(1)
		case resp.StatusCode == 200:
			counts[complete].Add(1)
		default:
			counts[other].Add(1)
		}
		if err != nil || resp.Close {
			conn.Close()
			conn = nil
		}
	}
	if conn != nil {
		conn.Close()
	}
}

// countingReader counts the bytes read from a connection.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// abusers are the ways abuse holds a connection while sending almost
// nothing. Each runs on one connection until the server closes it or ctx
// ends.
var abusers = map[string]func(ctx context.Context, c net.Conn){
	// One header byte every second, never ending the headers.
	"slowloris": func(ctx context.Context, c net.Conn) {
		trickle(ctx, c, "GET /alpacas HTTP/1.1\r\nHost: localhost\r\nX-Padding: "+strings.Repeat("a", 4000), time.Second)
	},
	// Connects and sends nothing.
	"silent": func(ctx context.Context, c net.Conn) { holdUntilClosed(ctx, c) },
	// A request answered on keep-alive, then three bytes of the next.
	"threebytes": func(ctx context.Context, c net.Conn) {
		if answered(c, request) {
			io.WriteString(c, "GET")
			holdUntilClosed(ctx, c)
		}
	},
	// A request answered (405), then its body, a byte a second.
	"bodytrickle": func(ctx context.Context, c net.Conn) {
		if answered(c, "POST /alpacas HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\nx") {
			trickle(ctx, c, strings.Repeat("x", 4000), time.Second)
		}
	},
	// 2,000 pipelined requests for /metrics, and no answer read: the
	// server's writes fill the socket buffers and wait.
	"noread": func(ctx context.Context, c net.Conn) {
		if _, err := io.WriteString(c, noReadBatch); err == nil {
			peerclose.Wait(ctx, c.(*net.TCPConn))
		}
	},
	// The header allowance of the default limit (16 KiB and net/http's
	// 4 KiB of slack) spent the costliest way: 100 fields of distinct
	// names, about 200 bytes each, the headers never ended.
	"headers": func(ctx context.Context, c net.Conn) {
		if _, err := io.WriteString(c, costlyHeaders); err == nil {
			holdUntilClosed(ctx, c)
		}
	},
}

var (
	noReadBatch   = strings.Repeat("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", 2000)
	costlyHeaders = func() string {
		var b strings.Builder
		b.WriteString("GET /alpacas HTTP/1.1\r\n")
		for i := range 100 {
			fmt.Fprintf(&b, "X-%02x: %s\r\n", i, strings.Repeat("a", 196))
		}
		return b.String()
	}()
)

// abuse runs -conns clients of -kind (or "mix": the kinds in turn), each
// reconnecting as soon as the server closes it, for -duration, and reports
// how many connections they made.
func abuse(args []string) error {
	fs := flag.NewFlagSet("abuse", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "server address (loopback)")
	kind := fs.String("kind", "mix", "slowloris, silent, threebytes, bodytrickle, noread, headers, or mix (the first four)")
	conns := fs.Int("conns", 640, "clients")
	duration := fs.Duration("duration", 10*time.Second, "how long to abuse")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	kinds := []string{*kind}
	if *kind == "mix" {
		kinds = []string{"slowloris", "silent", "threebytes", "bodytrickle"}
	}
	for _, k := range kinds {
		if abusers[k] == nil {
			return fmt.Errorf("unknown -kind %q", k)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var dials atomic.Int64
	var wg sync.WaitGroup
	for i := range *conns {
		run := abusers[kinds[i%len(kinds)]]
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := net.DialTimeout("tcp", *addr, time.Second)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				dials.Add(1)
				stop := context.AfterFunc(ctx, func() { c.Close() })
				run(ctx, c)
				stop()
				c.Close()
			}
		})
	}
	wg.Wait()
	fmt.Printf("kind=%s conns=%d connections_made=%d\n", *kind, *conns, dials.Load())
	return nil
}

// trickle writes s a byte every interval until ctx ends, s ends or the
// server closes the connection.
func trickle(ctx context.Context, c net.Conn, s string, interval time.Duration) {
	closed := watchClose(c)
	for i := 0; i < len(s); i++ {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-closed:
			return
		case <-time.After(interval):
		}
	}
	select {
	case <-ctx.Done():
	case <-closed:
	}
}

// holdUntilClosed waits until the server closes c or ctx ends.
func holdUntilClosed(ctx context.Context, c net.Conn) {
	select {
	case <-ctx.Done():
	case <-watchClose(c):
	}
}

// watchClose returns a channel closed once the server closes c.
func watchClose(c net.Conn) <-chan struct{} {
	closed := make(chan struct{})
	go func() { io.Copy(io.Discard, c); close(closed) }()
	return closed
}

// answered sends req on c and reads its answer.
func answered(c net.Conn, req string) bool {
	if _, err := io.WriteString(c, req); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	c.SetReadDeadline(time.Time{})
	return true
}
