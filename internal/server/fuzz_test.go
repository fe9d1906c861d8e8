package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// documentedStatus lists every status the handler may answer a GET with.
var documentedStatus = map[int]bool{200: true, 400: true, 404: true, 414: true}

// FuzzNoun sends any path through the handler in every format and checks
// what must hold for all input: no panic, a documented status, no control
// character in a plain-text body, and no markup from the noun in HTML.
func FuzzNoun(f *testing.F) {
	for _, seed := range []string{
		"alpacas", "ice cream", "café", "a/b", "..", "%", "\x00", "\n", "\x1b[31m", "\x7f", "\u202e",
		"<img src=x onerror=alert(1)>", `"'&<>`, "\xff\xfe", "\xc0\xaf", strings.Repeat("a", 200),
		"\u2028", "🦙", "", "/", "?q=1", "#frag",
	} {
		f.Add(seed)
	}
	h := newTestHandler()
	page := httptest.NewRecorder()
	writeGreeting(page, formatHTML, "x")
	pageTags := strings.Count(page.Body.String(), "<")
	f.Fuzz(func(t *testing.T, noun string) {
		// Build the URL the way a client would send it, then as the raw
		// bytes a hostile one might: both must hold.
		for _, target := range []string{"/" + escapePath(noun), "/" + noun} {
			req, err := http.NewRequest("GET", "http://localhost"+target, nil)
			if err != nil {
				continue // not a request net/http would hand to a handler
			}
			for _, accept := range []string{"text/plain", "application/json", "text/html"} {
				req.Header.Set("Accept", accept)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if !documentedStatus[rec.Code] {
					t.Fatalf("GET %q (%s): undocumented status %d", target, accept, rec.Code)
				}
				body := rec.Body.String()
				if !utf8.ValidString(body) {
					t.Fatalf("GET %q (%s): body is not valid UTF-8: %q", target, accept, body)
				}
				ct := rec.Header().Get("Content-Type")
				if strings.HasPrefix(ct, "text/plain") {
					for _, r := range body {
						if r < 0x20 && r != '\n' || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
							t.Fatalf("GET %q: plain-text body has control character %U: %q", target, r, body)
						}
					}
				}
				if strings.HasPrefix(ct, "text/html") && rec.Code == 200 && req.URL.Path != "/" {
					inner := between(body, `<strong id="noun">`, "</strong>")
					if strings.ContainsAny(inner, "<>") {
						t.Fatalf("GET %q: noun reaches HTML unescaped: %q", target, inner)
					}
					// Anywhere in the page (the title too), the noun adds no
					// markup: the page has as many tags as any greeting page.
					if got := strings.Count(body, "<"); got != pageTags {
						t.Fatalf("GET %q: page has %d '<', a greeting page has %d", target, got, pageTags)
					}
				}
			}
		}
	})
}

// escapePath percent-encodes every byte outside the unreserved set.
func escapePath(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	inner, _, _ := strings.Cut(after, end)
	return inner
}
