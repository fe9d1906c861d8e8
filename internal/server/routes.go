package server

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Handler answers every request of echo_app. The zero value is not usable:
// make one with NewHandler.
type Handler struct {
	build     build
	metrics   metrics
	ready     atomic.Bool
	accessLog *slog.Logger // nil when the access log is off
	conns     *connTracker // nil until Listen serves the handler
}

// NewHandler returns the handler for all routes, ready to serve. version and
// revision describe the binary in /metrics; accessLog, when not nil,
// receives one line per request.
func NewHandler(version, revision, goVersion string, accessLog *slog.Logger) *Handler {
	h := &Handler{
		build:     build{version: version, revision: revision, goVersion: goVersion},
		accessLog: accessLog,
	}
	h.metrics.start = time.Now()
	h.ready.Store(true)
	return h
}

// SetReady sets what /readyz answers: 200 when ready, 503 when not.
func (h *Handler) SetReady(ready bool) { h.ready.Store(ready) }

// ServeHTTP routes the request, then records it in the metrics and, when
// enabled, the access log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.metrics.inFlight.Add(1)
	// No route takes a body. One that comes anyway (chunked, perhaps
	// beside a Content-Length that net/http dropped) ends the connection
	// after the answer, so nothing smuggled in a body can be read as the
	// next request. HTTP/1.0 connections end too: net/http drops an
	// HTTP/1.0 request's Transfer-Encoding before the handler can see it,
	// so its body cannot be told from a next request. So do those of a
	// protocol this server does not speak, and every connection once
	// shutdown has begun.
	closing := r.ContentLength != 0 || r.ProtoMinor == 0 || r.ProtoMajor != 1 || !h.ready.Load()
	if closing {
		w.Header()["Connection"] = connectionClose
	}
	var status int
	if h.accessLog == nil {
		status = h.route(w, r)
	} else {
		cw := &countingWriter{ResponseWriter: w}
		status = h.route(cw, r)
		n := cw.n
		if r.Method == http.MethodHead {
			n = 0 // net/http discards a HEAD response's body
		}
		h.logAccess(r, status, n, time.Since(start))
	}
	h.metrics.inFlight.Add(-1)
	h.metrics.observe(r.Method, status, time.Since(start))
	if closing {
		// The last answer on this connection: once it is out, the
		// budget and shutdown may close the connection and lose nothing.
		http.NewResponseController(w).Flush()
		requestAnswered(r, r.ContentLength != 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue"))
	}
}

// route is the routing table. Every handler writes its response and returns
// the status code it sent.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) int {
	if r.ProtoMajor != 1 {
		// net/http lets "PRI * HTTP/2.0", the HTTP/2 preface, through to
		// the handler; this server speaks HTTP/1.x only.
		return writeError(w, http.StatusHTTPVersionNotSupported, "this server speaks HTTP/1.1")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = allowGetHead
		return writeError(w, http.StatusMethodNotAllowed, "use GET or HEAD")
	}
	if r.RequestURI == "*" {
		// The asterisk form is for OPTIONS alone (RFC 9112, 3.2.4).
		return writeError(w, http.StatusBadRequest, "a request target of * is for OPTIONS only")
	}
	switch r.URL.Path {
	case HealthPath:
		return writeOperational(w, http.StatusOK, "ok\n")
	case ReadyPath:
		if !h.ready.Load() {
			return writeOperational(w, http.StatusServiceUnavailable, "shutting down\n")
		}
		return writeOperational(w, http.StatusOK, "ready\n")
	case MetricsPath:
		header := w.Header()
		header["Content-Type"] = contentTypeProm
		header["Cache-Control"] = noStore
		header["X-Content-Type-Options"] = nosniff
		h.metrics.writeTo(w, h.build, h.ready.Load(), h.conns)
		return http.StatusOK
	}
	noun, status := nounOf(r.URL)
	switch status {
	case http.StatusOK:
	case http.StatusNotFound:
		return writeError(w, status, "a noun is one path segment, like /alpacas")
	case http.StatusRequestURITooLong:
		return writeError(w, status, "a noun is at most 128 bytes after percent-decoding")
	default:
		return writeError(w, status, "a noun must be valid UTF-8 in Unicode NFC, without control, invisible or bidirectional formatting characters")
	}
	f := negotiate(r.Header["Accept"])
	header := w.Header()
	header["Content-Type"] = contentTypes[f]
	header["Vary"] = varyAccept
	header["X-Content-Type-Options"] = nosniff
	if f == formatHTML {
		header["Content-Security-Policy"] = htmlPolicy
		header["Referrer-Policy"] = noReferrer
	}
	if noun == "" {
		io.WriteString(w, usage[f])
	} else {
		writeGreeting(w, f, noun)
	}
	return http.StatusOK
}

// writeOperational answers a probe: plain text that no cache keeps.
func writeOperational(w http.ResponseWriter, status int, body string) int {
	header := w.Header()
	header["Content-Type"] = contentTypeText
	header["Cache-Control"] = noStore
	header["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	io.WriteString(w, body)
	return status
}

// writeError answers with a one-line plain-text explanation. It never
// repeats the request's input, so nothing a client sends comes back.
func writeError(w http.ResponseWriter, status int, explanation string) int {
	header := w.Header()
	header["Content-Type"] = contentTypeText
	header["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+": "+explanation+"\n")
	return status
}

func (h *Handler) logAccess(r *http.Request, status, bytes int, d time.Duration) {
	h.accessLog.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", status),
		slog.Int("bytes", bytes),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
	)
}

// countingWriter counts the body bytes written, for the access log.
type countingWriter struct {
	http.ResponseWriter
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the ResponseWriter.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) WriteString(s string) (int, error) {
	n, err := io.WriteString(c.ResponseWriter, s)
	c.n += n
	return n, err
}
