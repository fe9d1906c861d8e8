package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects the server's log across goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs a Server with the shipped configuration on a free
// loopback port, and checks that it shuts down cleanly at the end.
func startServer(t *testing.T) (string, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	srv, _, _ := serveTest(t, DefaultConfig(), log, true)
	return srv.Addr().String(), log
}

// exchange writes raw bytes on a new connection and reads responses until
// the server closes the connection or goes quiet. closed reports whether
// the server closed it.
func exchange(t *testing.T, addr string, raw []byte) (responses []*http.Response, bodies []string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(raw); err != nil {
		// The server may close before reading everything (431): what it
		// answered is still to be read.
		t.Logf("write: %v", err)
	}
	r := bufio.NewReader(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			var ne net.Error
			if errorsAs(err, &ne) && ne.Timeout() {
				return responses, bodies, false
			}
			return responses, bodies, true
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		responses = append(responses, resp)
		bodies = append(bodies, string(body))
	}
}

func errorsAs(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

func header(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// TestHostileRequests sends what net/http's client refuses to send and
// checks the documented answer for each, that nothing panics or answers
// 500, and that the server still answers a clean request after.
func TestHostileRequests(t *testing.T) {
	addr, log := startServer(t)
	manyHeaders := []string{"GET /alpacas HTTP/1.1", "Host: x"}
	for i := range 3000 {
		manyHeaders = append(manyHeaders, fmt.Sprintf("X-H%d: v", i))
	}
	tests := []struct {
		name     string
		raw      []byte
		statuses []int  // the responses expected, in order
		body     string // of the last response, when not empty
		closes   bool   // the server must close the connection
	}{
		{"malformed request line", header("GARBAGE"), []int{400}, "", true},
		{"request line without version", header("GET /alpacas"), []int{400}, "", true},
		{"bare LF line endings", []byte("GET /alpacas HTTP/1.1\nHost: x\n\n"), []int{200}, "I love alpacas!\n", false},
		{"absolute-form URI", header("GET http://example.com/alpacas HTTP/1.1", "Host: example.com"), []int{200}, "I love alpacas!\n", false},
		{"Content-Length with Transfer-Encoding", []byte("GET /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), []int{200}, "I love alpacas!\n", true},
		{"duplicate Content-Length", []byte("GET /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), []int{400}, "", true},
		{"unknown Transfer-Encoding", header("GET /alpacas HTTP/1.1", "Host: x", "Transfer-Encoding: gzip"), []int{501}, "", true},
		{"two Transfer-Encodings", header("GET /alpacas HTTP/1.1", "Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), []int{501}, "", true},
		{"huge header", header("GET /alpacas HTTP/1.1", "Host: x", "X-Big: "+strings.Repeat("a", 30000)), []int{431}, "", true},
		{"numerous headers", header(manyHeaders...), []int{431}, "", true},
		{"request line over the header limit", header("GET /"+strings.Repeat("a", 30000)+" HTTP/1.1", "Host: x"), []int{431}, "", true},
		{"pipelined", []byte("GET /alpacas HTTP/1.1\r\nHost: x\r\n\r\nGET /llamas HTTP/1.1\r\nHost: x\r\n\r\n"), []int{200, 200}, "I love llamas!\n", false},
		{"HTTP/1.0 without Host", header("GET /alpacas HTTP/1.0"), []int{200}, "I love alpacas!\n", true},
		{"HTTP/1.1 without Host", header("GET /alpacas HTTP/1.1"), []int{400}, "", true},
		{"unsupported version", header("GET /alpacas HTTP/9.9", "Host: x"), []int{505}, "", true},
		{"encoded dot segment", header("GET /%2E%2E HTTP/1.1", "Host: x"), []int{404}, "", false},
		{"raw dot segments", header("GET /../etc/passwd HTTP/1.1", "Host: x"), []int{404}, "", false},
		{"encoded slashes stay in the noun", header("GET /AC%2FDC HTTP/1.1", "Host: x"), []int{200}, "I love AC/DC!\n", false},
		{"overlong UTF-8", header("GET /%C0%AE%C0%AE HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"raw invalid UTF-8", header("GET /a\xffb HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"raw NUL", header("GET /a\x00b HTTP/1.1", "Host: x"), []int{400}, "", true},
		{"raw ESC", header("GET /a\x1b[31mb HTTP/1.1", "Host: x"), []int{400}, "", true},
		{"encoded NUL", header("GET /a%00b HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"encoded ESC", header("GET /a%1B%5B31mb HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"bidi override", header("GET /abc%E2%80%AEfed HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"raw bidi override", header("GET /abc\xe2\x80\xaefed HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"space in the target", header("GET /a b HTTP/1.1", "Host: x"), []int{400}, "", true},
		{"header without a colon", header("GET /alpacas HTTP/1.1", "Host: x", "NoColon"), []int{400}, "", true},
		{"HTTP/2 preface on HTTP/1", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []int{505}, "", true},
		{"HTTP/1.0 with Transfer-Encoding smuggles nothing", []byte("GET /alpacas HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), []int{200}, "I love alpacas!\n", true},
		{"HTTP/1.0 keep-alive closes", header("GET /alpacas HTTP/1.0", "Connection: keep-alive"), []int{200}, "I love alpacas!\n", true},
		{"OPTIONS *", header("OPTIONS * HTTP/1.1", "Host: x"), []int{405}, "Method Not Allowed: use GET or HEAD\n", false},
		{"GET *", header("GET * HTTP/1.1", "Host: x"), []int{400}, "Bad Request: a request target of * is for OPTIONS only\n", false},
		{"raw # in the target", header("GET /alpacas#frag HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"encoded # is part of the noun", header("GET /C%23 HTTP/1.1", "Host: x"), []int{200}, "I love C#!\n", false},
		{"café in NFC", header("GET /caf%C3%A9 HTTP/1.1", "Host: x"), []int{200}, "I love café!\n", false},
		{"café in NFD, e and a combining acute", header("GET /cafe%CC%81 HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"ANGSTROM SIGN, never in NFC", header("GET /%E2%84%AB HTTP/1.1", "Host: x"), []int{400}, "", false},
		{"unknown Expect", header("GET /alpacas HTTP/1.1", "Host: x", "Expect: bogus"), []int{417}, "", true},
		{"CONNECT", header("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"), []int{405}, "", false},
		{"body on a GET", []byte("GET /alpacas HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"), []int{200}, "I love alpacas!\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			responses, bodies, closed := exchange(t, addr, tt.raw)
			var got []int
			for _, r := range responses {
				got = append(got, r.StatusCode)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.statuses) {
				t.Fatalf("statuses %v, want %v (bodies %q)", got, tt.statuses, bodies)
			}
			if tt.body != "" && bodies[len(bodies)-1] != tt.body {
				t.Errorf("body %q, want %q", bodies[len(bodies)-1], tt.body)
			}
			if tt.closes && !closed {
				t.Error("the connection stayed open, want it closed")
			}
			// The server still answers a clean request.
			responses, bodies, _ = exchange(t, addr, header("GET /alpacas HTTP/1.1", "Host: x", "Connection: close"))
			if len(responses) != 1 || responses[0].StatusCode != 200 || bodies[0] != "I love alpacas!\n" {
				t.Fatalf("clean request after: %v %q", responses, bodies)
			}
		})
	}
	if strings.Contains(log.String(), "panic") {
		t.Errorf("the server logged a panic:\n%s", log)
	}
}

// TestNoBypassOfTheHandler: requests that net/http would answer itself, or
// pass through in a protocol this server does not speak, get the
// handler's answer: its headers, and a place in the metrics.
func TestNoBypassOfTheHandler(t *testing.T) {
	addr, _ := startServer(t)
	for _, tt := range []struct {
		raw    string
		status int
		allow  string
		metric string
	}{
		{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405, "GET, HEAD", `echo_app_http_requests_total{method="other",code="405"} 1`},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "", `echo_app_http_requests_total{method="other",code="505"} 1`},
	} {
		responses, _, _ := exchange(t, addr, []byte(tt.raw))
		if len(responses) != 1 || responses[0].StatusCode != tt.status {
			t.Fatalf("%q: %v, want one %d", tt.raw, responses, tt.status)
		}
		h := responses[0].Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Allow") != tt.allow {
			t.Errorf("%q: headers %v", tt.raw, h)
		}
		if got := metric(t, addr, strings.SplitN(tt.metric, " ", 2)[0]); got != tt.metric {
			t.Errorf("%q: metric %q, want %q", tt.raw, got, tt.metric)
		}
	}
}

// TestHeadMatchesGet: over a real connection, HEAD carries exactly GET's
// headers, framing included, for every kind of answer, the largest bodies
// among them (an HTML greeting of a noun that escaping makes five times
// longer is sent chunked unless it says its length).
func TestHeadMatchesGet(t *testing.T) {
	addr, _ := startServer(t)
	for _, tt := range []struct{ target, accept string }{
		{"/alpacas", ""},
		{"/" + strings.Repeat("%26", 128), "text/html"},
		{"/" + strings.Repeat("%3C", 128), "application/json"},
		{"/" + strings.Repeat("%26", 128), "text/plain"},
		{"/", "text/html"},
		{"/", ""},
		{"/healthz", ""},
		{"/metrics", ""},
		{"/readyz", ""},
		{"/a/b", ""},
		{"/%FF", ""},
	} {
		headers := map[string]http.Header{}
		for _, method := range []string{"GET", "HEAD"} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n", method, tt.target, tt.accept)
			req, _ := http.NewRequest(method, "http://x"+tt.target, nil)
			resp, err := http.ReadResponse(bufio.NewReader(c), req)
			c.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", method, tt.target, err)
			}
			resp.Header.Del("Date")
			if len(resp.TransferEncoding) > 0 {
				resp.Header["Transfer-Encoding"] = resp.TransferEncoding
			}
			if resp.ContentLength >= 0 {
				resp.Header["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
				if tt.target == MetricsPath {
					// The counts, and so the length, change between the two.
					resp.Header["Content-Length"] = []string{"some"}
				}
			}
			headers[method] = resp.Header
		}
		if !reflect.DeepEqual(headers["GET"], headers["HEAD"]) {
			t.Errorf("%s (Accept: %s):\nGET  %v\nHEAD %v", tt.target, tt.accept, headers["GET"], headers["HEAD"])
		}
		if headers["GET"].Get("Content-Length") == "" {
			t.Errorf("%s (Accept: %s): GET has no Content-Length: %v", tt.target, tt.accept, headers["GET"])
		}
	}
}
