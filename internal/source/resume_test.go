package source

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestResumeBody reads a blob from a server that sends the first
// answer's first third and then closes: the rest comes by a Range request
// (206), or, from a server that ignores Range, from the start again with
// the bytes already read skipped (200). A server that then answers an
// error stops it, naming the status.
func TestResumeBody(t *testing.T) {
	blob := make([]byte, 3<<20)
	for i := range blob {
		blob[i] = byte(rand.IntN(256))
	}
	for _, c := range []struct {
		name      string
		ranges    bool
		status    int // of the answers after the first
		wantError string
	}{
		{"range", true, 0, ""},
		{"no range", false, 0, ""},
		{"error", true, http.StatusForbidden, "403"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if served.Add(1) == 1 {
					w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
					w.Write(blob[:len(blob)/3])
					w.(http.Flusher).Flush()
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return
				}
				if c.status != 0 {
					w.WriteHeader(c.status)
					return
				}
				if !c.ranges {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(blob))
			}))
			defer srv.Close()
			var said []string
			rt := resuming{next: http.DefaultTransport, warn: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/app/blobs/sha256:abc", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Errorf("error %v, want one with %s", err, c.wantError)
				}
				return
			}
			if err != nil || !bytes.Equal(got, blob) {
				t.Fatalf("read %d of %d bytes: %v", len(got), len(blob), err)
			}
			if len(said) != 1 || !strings.Contains(said[0], "broke at byte "+strconv.Itoa(len(blob)/3)) {
				t.Errorf("said %q", said)
			}
		})
	}
}
