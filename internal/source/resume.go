package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Resuming a blob download cut short, as Docker and containerd do: a
// Range request from the byte reached. A resume that gains no byte counts
// against maxStalls; any progress resets the count. The wait between
// attempts doubles from firstBackoff up to maxBackoff.
const (
	maxStalls    = 5
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 2 * time.Second
)

// resuming is a RoundTripper whose blob downloads resume where a broken
// connection left them. go-containerregistry checks the digest of the
// whole blob above it.
type resuming struct {
	next http.RoundTripper
	warn func(format string, a ...any)
}

func (r resuming) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || !strings.Contains(req.URL.Path, "/blobs/") {
		return resp, err
	}
	resp.Body = &resumeBody{req: req, next: r.next, warn: r.warn, body: resp.Body, total: resp.ContentLength}
	return resp, nil
}

// resumeBody reads a blob's response, and on a broken connection asks for
// the rest.
type resumeBody struct {
	req    *http.Request
	next   http.RoundTripper
	warn   func(format string, a ...any)
	body   io.ReadCloser
	read   int64
	total  int64 // -1 when the registry did not say
	stalls int
}

func (b *resumeBody) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.read += int64(n)
		if n > 0 {
			b.stalls = 0
		}
		switch {
		case err == nil, err == io.EOF && (b.total < 0 || b.read == b.total):
			return n, err
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return n, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if rerr := b.resume(err); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume replaces the broken body with the rest of the blob, after a
// wait, or says why it cannot.
func (b *resumeBody) resume(cause error) error {
	b.body.Close()
	blob := b.req.URL.Path[strings.LastIndex(b.req.URL.Path, "/")+1:]
	for {
		b.stalls++
		if b.stalls > maxStalls {
			return fmt.Errorf("blob %s: the download broke at byte %d and %d resumes in a row gained nothing: %w", blob, b.read, maxStalls, cause)
		}
		wait := min(firstBackoff<<(b.stalls-1), maxBackoff)
		b.warn("blob %s: the download broke at byte %d of %s (%v); resuming in %v (attempt %d of %d)", blob, b.read, b.size(), cause, wait, b.stalls, maxStalls)
		ctx := b.req.Context()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		req := b.req.Clone(ctx)
		req.Header.Set("Range", "bytes="+strconv.FormatInt(b.read, 10)+"-")
		resp, err := b.next.RoundTrip(req)
		if err != nil {
			cause = err
			continue
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(b.read, 10)+"-"):
			b.body = resp.Body
			return nil
		case resp.StatusCode == http.StatusOK:
			// No ranges here: the blob again from its start, the bytes
			// already read skipped.
			if _, err := io.CopyN(io.Discard, resp.Body, b.read); err != nil {
				resp.Body.Close()
				cause = err
				continue
			}
			b.body = resp.Body
			return nil
		}
		resp.Body.Close()
		return fmt.Errorf("blob %s: resuming at byte %d, the registry answered %s: %w", blob, b.read, resp.Status, cause)
	}
}

func (b *resumeBody) size() string {
	if b.total < 0 {
		return "an unknown size"
	}
	return strconv.FormatInt(b.total, 10)
}

func (b *resumeBody) Close() error { return b.body.Close() }
