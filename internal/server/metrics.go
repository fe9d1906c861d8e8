package server

import (
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The label values of echo_app_http_requests_total. Methods other than GET
// and HEAD share one value so a client cannot grow the series without bound.
var (
	methodLabels = [...]string{"GET", "HEAD", "other"}
	statusCodes  = [...]int{
		http.StatusOK,
		http.StatusBadRequest,
		http.StatusNotFound,
		http.StatusMethodNotAllowed,
		http.StatusRequestURITooLong,
		http.StatusServiceUnavailable,
		http.StatusHTTPVersionNotSupported,
	}
)

const otherStatus = len(statusCodes)

// durationBuckets are the upper bounds, in seconds, of the request duration
// histogram. A greeting takes microseconds; the upper buckets show clients
// that are slow to read.
var durationBuckets = [...]float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// metrics counts requests with atomic counters only: recording one costs a
// few atomic additions and no allocation.
type metrics struct {
	requests [len(methodLabels)][len(statusCodes) + 1]atomic.Uint64
	inFlight atomic.Int64

	buckets     [len(durationBuckets) + 1]atomic.Uint64 // not cumulative; the last is +Inf
	durationSum atomic.Uint64                           // nanoseconds
	start       time.Time
}

func methodIndex(method string) int {
	switch method {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	}
	return 2
}

func statusIndex(code int) int {
	for i, c := range statusCodes {
		if c == code {
			return i
		}
	}
	return otherStatus
}

func (m *metrics) observe(method string, code int, d time.Duration) {
	m.requests[methodIndex(method)][statusIndex(code)].Add(1)
	seconds := d.Seconds()
	i := 0
	for i < len(durationBuckets) && seconds > durationBuckets[i] {
		i++
	}
	m.buckets[i].Add(1)
	m.durationSum.Add(uint64(d))
}

// build describes the running binary for echo_app_build_info.
type build struct {
	version, revision, goVersion string
}

// writeTo writes the metrics in the Prometheus text exposition format,
// version 0.0.4, with its Content-Length, so that HEAD and GET carry the
// same headers. conns is nil when the handler serves no listener.
func (m *metrics) writeTo(w http.ResponseWriter, b build, ready bool, conns *connTracker) {
	buf := make([]byte, 0, 4096)

	buf = append(buf, "# HELP echo_app_http_requests_total HTTP requests answered, by method and status code.\n"...)
	buf = append(buf, "# TYPE echo_app_http_requests_total counter\n"...)
	for mi := range m.requests {
		for si := range m.requests[mi] {
			n := m.requests[mi][si].Load()
			// GET 200 is always shown, so the series exists from the start.
			if n == 0 && (mi != 0 || si != 0) {
				continue
			}
			code := "other"
			if si < len(statusCodes) {
				code = strconv.Itoa(statusCodes[si])
			}
			buf = append(buf, `echo_app_http_requests_total{method="`...)
			buf = append(buf, methodLabels[mi]...)
			buf = append(buf, `",code="`...)
			buf = append(buf, code...)
			buf = append(buf, `"} `...)
			buf = strconv.AppendUint(buf, n, 10)
			buf = append(buf, '\n')
		}
	}

	buf = append(buf, "# HELP echo_app_http_request_duration_seconds Time from routing a request to writing its response.\n"...)
	buf = append(buf, "# TYPE echo_app_http_request_duration_seconds histogram\n"...)
	var cumulative uint64
	for i := range m.buckets {
		cumulative += m.buckets[i].Load()
		le := "+Inf"
		if i < len(durationBuckets) {
			le = strconv.FormatFloat(durationBuckets[i], 'f', -1, 64)
		}
		buf = append(buf, `echo_app_http_request_duration_seconds_bucket{le="`...)
		buf = append(buf, le...)
		buf = append(buf, `"} `...)
		buf = strconv.AppendUint(buf, cumulative, 10)
		buf = append(buf, '\n')
	}
	buf = append(buf, "echo_app_http_request_duration_seconds_sum "...)
	buf = strconv.AppendFloat(buf, time.Duration(m.durationSum.Load()).Seconds(), 'g', -1, 64)
	buf = append(buf, "\necho_app_http_request_duration_seconds_count "...)
	buf = strconv.AppendUint(buf, cumulative, 10)
	buf = append(buf, '\n')

	buf = gauge(buf, "echo_app_http_requests_in_flight", "HTTP requests being answered.", float64(m.inFlight.Load()))
	buf = gauge(buf, "echo_app_ready", "1 while the server accepts traffic, 0 once shutdown has started.", boolFloat(ready))

	if conns != nil {
		buf = append(buf, "# HELP echo_app_connections Open connections: new (no byte yet), reading (headers in progress), active (a request in hand or being answered), answered (the last answer sent, closing), idle (waiting for the next request).\n"...)
		buf = append(buf, "# TYPE echo_app_connections gauge\n"...)
		for state, n := range conns.counts() {
			buf = append(buf, `echo_app_connections{state="`...)
			buf = append(buf, phaseLabels[state]...)
			buf = append(buf, `"} `...)
			buf = strconv.AppendInt(buf, int64(n), 10)
			buf = append(buf, '\n')
		}
		buf = gauge(buf, "echo_app_connections_max", "The connection budget (-max-conns).", float64(conns.max))
		buf = counter(buf, "echo_app_connections_evicted_total", "Connections closed to make room for a new one at the connection budget: without a complete request, whose client takes no answers, or after a run of pipelined answers.", conns.evicted.Load())
		buf = counter(buf, "echo_app_connections_refused_total", "New connections closed at the connection budget because every connection had a complete request in hand.", conns.refused.Load())
	}

	buf = append(buf, "# HELP echo_app_build_info The version of echo_app and of Go it was built with.\n"...)
	buf = append(buf, "# TYPE echo_app_build_info gauge\n"...)
	buf = append(buf, `echo_app_build_info{version="`...)
	buf = append(buf, labelValue(b.version)...)
	buf = append(buf, `",revision="`...)
	buf = append(buf, labelValue(b.revision)...)
	buf = append(buf, `",goversion="`...)
	buf = append(buf, labelValue(b.goVersion)...)
	buf = append(buf, "\"} 1\n"...)

	buf = gauge(buf, "process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
		float64(m.start.UnixMicro())/1e6)
	buf = gauge(buf, "go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))

	w.Header()["Content-Length"] = []string{strconv.Itoa(len(buf))}
	w.Write(buf)
}

// family writes the HELP and TYPE lines of a metric and starts its sample.
func family(buf []byte, name, help, kind string) []byte {
	buf = append(buf, "# HELP "...)
	buf = append(buf, name...)
	buf = append(buf, ' ')
	buf = append(buf, help...)
	buf = append(buf, "\n# TYPE "...)
	buf = append(buf, name...)
	buf = append(buf, ' ')
	buf = append(buf, kind...)
	buf = append(buf, '\n')
	buf = append(buf, name...)
	return append(buf, ' ')
}

func counter(buf []byte, name, help string, v uint64) []byte {
	buf = family(buf, name, help, "counter")
	buf = strconv.AppendUint(buf, v, 10)
	return append(buf, '\n')
}

func gauge(buf []byte, name, help string, v float64) []byte {
	buf = family(buf, name, help, "gauge")
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		buf = strconv.AppendInt(buf, int64(v), 10)
	} else {
		buf = strconv.AppendFloat(buf, v, 'f', -1, 64)
	}
	return append(buf, '\n')
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// labelValue escapes a label value as the exposition format requires.
func labelValue(s string) string {
	return labelEscaper.Replace(s)
}
