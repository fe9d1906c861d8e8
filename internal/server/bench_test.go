package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmarks
// measure the handler and not a recorder.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteString(s string) (int, error) {
	return len(s), nil
}
func (d *discardWriter) WriteHeader(int) {}

func benchmarkRequest(b *testing.B, target, accept string) {
	h := newTestHandler()
	req := httptest.NewRequest("GET", target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, req)
	}
}

func BenchmarkGreetingText(b *testing.B) { benchmarkRequest(b, "/alpacas", "") }
func BenchmarkGreetingCurl(b *testing.B) { benchmarkRequest(b, "/alpacas", "*/*") }
func BenchmarkGreetingJSON(b *testing.B) { benchmarkRequest(b, "/alpacas", "application/json") }
func BenchmarkGreetingHTML(b *testing.B) {
	benchmarkRequest(b, "/alpacas", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
}
func BenchmarkHealthz(b *testing.B) { benchmarkRequest(b, "/healthz", "") }
func BenchmarkMetrics(b *testing.B) { benchmarkRequest(b, "/metrics", "") }

// TestGreetingAllocations holds the hot path to zero allocations.
func TestGreetingAllocations(t *testing.T) {
	h := newTestHandler()
	req := httptest.NewRequest("GET", "/alpacas", nil)
	req.Header.Set("Accept", "*/*")
	w := &discardWriter{header: http.Header{}}
	allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })
	if allocs != 0 {
		t.Errorf("GET /alpacas allocates %v times per request, want 0", allocs)
	}
}
