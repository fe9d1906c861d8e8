package server

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestHandler() *Handler {
	return NewHandler("v1.2.3", "abc123", "go1.26", nil)
}

// serve sends one request through the handler, the way net/http parses it.
func serve(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const (
	plain = "text/plain; charset=utf-8"
	htmlT = "text/html; charset=utf-8"
	jsonT = "application/json"
)

func TestContract(t *testing.T) {
	browserAccept := "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
	tests := []struct {
		name        string
		method      string
		target      string
		accept      string
		status      int
		contentType string
		body        string // exact body, when not empty
		contains    string // a part of the body, when not empty
	}{
		{"greeting", "GET", "/alpacas", "", 200, plain, "I love alpacas!\n", ""},
		{"head has no body", "HEAD", "/alpacas", "", 200, plain, "", ""},
		{"percent-decoded", "GET", "/ice%20cream", "", 200, plain, "I love ice cream!\n", ""},
		{"utf-8", "GET", "/caf%C3%A9", "", 200, plain, "I love café!\n", ""},
		{"raw utf-8", "GET", "/café", "", 200, plain, "I love café!\n", ""},
		{"escaped slash is part of the noun", "GET", "/AC%2FDC", "", 200, plain, "I love AC/DC!\n", ""},
		{"curl's accept", "GET", "/alpacas", "*/*", 200, plain, "I love alpacas!\n", ""},
		{"json", "GET", "/alpacas", "application/json", 200, jsonT, `{"noun":"alpacas","message":"I love alpacas!"}` + "\n", ""},
		{"json escapes quotes", "GET", `/say%22hi%22`, "application/json", 200, jsonT, `{"noun":"say\"hi\"","message":"I love say\"hi\"!"}` + "\n", ""},
		{"browser gets html", "GET", "/alpacas", browserAccept, 200, htmlT, "", `<strong id="noun">alpacas</strong>`},
		{"html escapes the noun", "GET", "/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "text/html", 200, htmlT, "", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"unknown type gets plain", "GET", "/alpacas", "image/png", 200, plain, "I love alpacas!\n", ""},
		{"q values decide", "GET", "/alpacas", "text/html;q=0.5, application/json", 200, jsonT, "", `"message":"I love alpacas!"`},
		{"q=0 refuses", "GET", "/alpacas", "text/plain;q=0, text/html", 200, htmlT, "", "I love"},
		{"usage", "GET", "/", "", 200, plain, "", "GET /{noun}"},
		{"usage json", "GET", "/", "application/json", 200, jsonT, "", `"endpoints"`},
		{"usage html", "GET", "/", "text/html", 200, htmlT, "", "<code>GET /healthz</code>"},
		{"healthz", "GET", "/healthz", "", 200, plain, "ok\n", ""},
		{"readyz", "GET", "/readyz", "", 200, plain, "ready\n", ""},
		{"metrics", "GET", "/metrics", "", 200, "text/plain; version=0.0.4; charset=utf-8", "", "echo_app_build_info"},
		{"post", "POST", "/alpacas", "", 405, plain, "Method Not Allowed: use GET or HEAD\n", ""},
		{"delete on a probe", "DELETE", "/healthz", "", 405, plain, "", "use GET or HEAD"},
		{"nested", "GET", "/a/b", "", 404, plain, "", "one path segment"},
		{"trailing slash", "GET", "/alpacas/", "", 404, plain, "", "one path segment"},
		{"dot dot", "GET", "/..", "", 404, plain, "", "one path segment"},
		{"encoded dot dot", "GET", "/%2E%2E", "", 404, plain, "", "one path segment"},
		{"nul", "GET", "/a%00b", "", 400, plain, "", "valid UTF-8"},
		{"newline", "GET", "/a%0Ab", "", 400, plain, "", "valid UTF-8"},
		{"escape", "GET", "/a%1Bb", "", 400, plain, "", "valid UTF-8"},
		{"del", "GET", "/a%7Fb", "", 400, plain, "", "valid UTF-8"},
		{"c1 control", "GET", "/a%C2%85b", "", 400, plain, "", "valid UTF-8"},
		{"invalid utf-8", "GET", "/%FF", "", 400, plain, "", "valid UTF-8"},
		{"overlong utf-8", "GET", "/%C0%AF", "", 400, plain, "", "valid UTF-8"},
		{"bidi override", "GET", "/abc%E2%80%AEdef", "", 400, plain, "", "valid UTF-8"},
		{"bidi isolate", "GET", "/abc%E2%81%A6def", "", 400, plain, "", "valid UTF-8"},
		{"longest noun", "GET", "/" + strings.Repeat("a", MaxNounBytes), "", 200, plain, "I love " + strings.Repeat("a", MaxNounBytes) + "!\n", ""},
		{"too long", "GET", "/" + strings.Repeat("a", MaxNounBytes+1), "", 414, plain, "", "at most 128 bytes"},
		{"too long once decoded", "GET", "/" + strings.Repeat("%C3%A9", MaxNounBytes/2+1), "", 414, plain, "", "at most 128 bytes"},
	}
	h := newTestHandler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.accept != "" {
				header.Set("Accept", tt.accept)
			}
			rec := serve(t, h, tt.method, tt.target, header)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body = %q, want %q", rec.Body, tt.body)
			}
			if tt.contains != "" && !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body = %q, want it to contain %q", rec.Body, tt.contains)
			}
			if tt.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want %q", rec.Header().Get("Allow"), "GET, HEAD")
			}
			if tt.status == 200 && tt.target != "/healthz" && tt.target != "/readyz" && tt.target != "/metrics" {
				if rec.Header().Get("Vary") != "Accept" {
					t.Errorf("Vary = %q, want Accept", rec.Header().Get("Vary"))
				}
			}
			if tt.contentType == htmlT {
				csp := rec.Header().Get("Content-Security-Policy")
				if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") {
					t.Errorf("Content-Security-Policy = %q, want a strict policy", csp)
				}
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	h := newTestHandler()
	h.SetReady(false)
	rec := serve(t, h, "GET", "/readyz", nil)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("not ready: status = %d, want 503", rec.Code)
	}
	if rec := serve(t, h, "GET", "/healthz", nil); rec.Code != http.StatusOK {
		t.Errorf("liveness while not ready: status = %d, want 200", rec.Code)
	}
	h.SetReady(true)
	if rec := serve(t, h, "GET", "/readyz", nil); rec.Code != http.StatusOK {
		t.Errorf("ready again: status = %d, want 200", rec.Code)
	}
}

func TestNounNeverInHeaders(t *testing.T) {
	h := newTestHandler()
	for _, accept := range []string{"", "application/json", "text/html"} {
		rec := serve(t, h, "GET", "/zebra-stripes", http.Header{"Accept": {accept}})
		for k, values := range rec.Header() {
			for _, v := range values {
				if strings.Contains(v, "zebra") {
					t.Errorf("Accept %q: header %s = %q carries the noun", accept, k, v)
				}
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept []string
		want   format
	}{
		{nil, formatText},
		{[]string{""}, formatText},
		{[]string{"*/*"}, formatText},
		{[]string{"text/*"}, formatText},
		{[]string{"application/json"}, formatJSON},
		{[]string{"APPLICATION/JSON"}, formatJSON},
		{[]string{"application/*"}, formatJSON},
		{[]string{"text/html"}, formatHTML},
		{[]string{"text/html;level=1"}, formatHTML},
		{[]string{"text/*;q=0.5, text/html"}, formatHTML},
		{[]string{"text/html;q=0.1", "application/json;q=0.2"}, formatJSON},
		{[]string{"text/html;q=1.5"}, formatText},    // malformed q: element ignored
		{[]string{"text/html;q=abc"}, formatText},    // malformed q: element ignored
		{[]string{"text/html;q=0.0001"}, formatText}, // too many digits
		{[]string{"*/*;q=0"}, formatText},
		{[]string{"image/png"}, formatText},
		{[]string{",,, ;;;, text/html"}, formatHTML},
	}
	for _, tt := range tests {
		if got := negotiate(tt.accept); got != tt.want {
			t.Errorf("negotiate(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "alpacas", `a"b\c`, "<script>&", "line\u2028sep\u2029", "tab\there", "é ✓ 🦙", "\x01\x1f"} {
		b := append(appendJSONString([]byte{'"'}, s), '"')
		want, _ := json.Marshal(s)
		if string(b) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, b, want)
		}
	}
}

func TestHTMLEscapeMatchesHTMLPackage(t *testing.T) {
	for _, s := range []string{"", "alpacas", `<a href="x">'&'</a>`, "é & 🦙", strings.Repeat("&", 128)} {
		if got, want := string(appendHTMLEscaped(nil, s)), html.EscapeString(s); got != want {
			t.Errorf("appendHTMLEscaped(%q) = %q, want %q", s, got, want)
		}
	}
}

// tagged spells s in tag characters.
func tagged(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(0xe0000 + r)
	}
	return b.String()
}

// TestInvisibleCharacters checks the rule for invisible code points: refused
// anywhere they would make two nouns look alike, accepted in the emoji and
// script sequences people type.
func TestInvisibleCharacters(t *testing.T) {
	h := newTestHandler()
	for _, tt := range []struct {
		name string
		noun string
		ok   bool
	}{
		{"zero-width space", "a\u200bb", false},
		{"byte order mark", "\ufeffalpacas", false},
		{"soft hyphen", "al\u00adpacas", false},
		{"word joiner", "al\u2060pacas", false},
		{"hangul filler", "\u3164", false},
		{"combining grapheme joiner", "a\u034fb", false},
		{"lone tag character", "a\U000e0061b", false},
		{"tag run without cancel tag", "\U0001f3f4\U000e0067\U000e0062", false},
		{"cancel tag alone", "\U0001f3f4\U000e007f", false},
		{"tags after a letter", "a\U000e0067\U000e0062\U000e007f", false},
		{"tags spelling hidden capitals after a black flag", "\U0001f3f4" + tagged("IGNORE ALL RULES") + "\U000e007f", false},
		{"tag space after a black flag", "\U0001f3f4\U000e0067\U000e0020\U000e0062\U000e007f", false},
		{"zwj between ASCII symbols", "$\u200d$", false},
		{"zwj between an ASCII symbol and an emoji", "+\u200d\U0001f468", false},
		{"noncharacter fffe", "a\ufffeb", false},
		{"noncharacter fdd0", "a\ufdd0b", false},
		{"noncharacter 1fffe", "a\U0001fffeb", false},
		{"zwj between latin letters", "a\u200db", false},
		{"zwnj between latin letters", "a\u200cb", false},
		{"trailing zwj", "\U0001f468\u200d", false},
		{"leading zwj", "\u200d\U0001f468", false},
		{"variation selector after a latin letter", "a\ufe0f", false},
		{"two variation selectors", "\u2764\ufe0f\ufe0f", false},
		{"invisible separator", "a\u2063b", false},
		{"mongolian vowel separator", "a\u180eb", false},

		{"zwj family", "\U0001f468\u200d\U0001f469\u200d\U0001f467", true},
		{"red heart", "\u2764\ufe0f", true},
		{"scotland flag", "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", true},
		{"rainbow flag", "\U0001f3f3\ufe0f\u200d\U0001f308", true},
		{"skin tone in a zwj sequence", "\U0001f469\U0001f3fd\u200d\U0001f4bb", true},
		{"heart on fire", "\u2764\ufe0f\u200d\U0001f525", true},
		{"keycap", "1\ufe0f\u20e3", true},
		{"text presentation", "\u263a\ufe0e", true},
		{"persian zwnj", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", true},
		{"devanagari zwj after virama", "\u0915\u094d\u200d\u0937", true},
		{"ideographic variation", "\u845b\U000e0100", true},
		{"arabic number sign is visible", "\u0600\u0661", true},
		{"plain emoji", "\U0001f999", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, h, "GET", "/"+escapePath(tt.noun), nil)
			want := http.StatusBadRequest
			if tt.ok {
				want = http.StatusOK
			}
			if rec.Code != want {
				t.Fatalf("GET %+q: %d, want %d", tt.noun, rec.Code, want)
			}
			if tt.ok && rec.Body.String() != "I love "+tt.noun+"!\n" {
				t.Errorf("body %q", rec.Body)
			}
		})
	}
}
