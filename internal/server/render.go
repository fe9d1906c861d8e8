package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Header values are shared, never modified slices, so setting a header
// costs no allocation.
var (
	contentTypeText = []string{"text/plain; charset=utf-8"}
	contentTypeJSON = []string{"application/json"}
	contentTypeHTML = []string{"text/html; charset=utf-8"}
	contentTypeProm = []string{"text/plain; version=0.0.4; charset=utf-8"}
	nosniff         = []string{"nosniff"}
	varyAccept      = []string{"Accept"}
	noStore         = []string{"no-store"}
	allowGetHead    = []string{"GET, HEAD"}
	htmlPolicy      = []string{contentSecurityPolicy}
	noReferrer      = []string{"no-referrer"}
	connectionClose = []string{"close"}
)

var contentTypes = [numFormats][]string{
	formatText: contentTypeText,
	formatJSON: contentTypeJSON,
	formatHTML: contentTypeHTML,
}

// pageStyle is the only styling of the HTML pages. The Content-Security-
// Policy allows exactly this stylesheet, by hash, and nothing else: no
// script, no image, no font, no frame.
const pageStyle = `:root{color-scheme:light dark;--bg:#fdf6ec;--fg:#3b2f2f;--accent:#b5651d;--muted:#7a6a5a}` +
	`@media (prefers-color-scheme:dark){:root{--bg:#1e1a17;--fg:#f3e9dc;--accent:#e0a96d;--muted:#b3a394}}` +
	`*{box-sizing:border-box}` +
	`body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--fg);` +
	`font:1.125rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}` +
	`main{max-width:40rem;padding:2rem;text-align:center}` +
	`h1{font-size:clamp(2rem,7vw,3.5rem);line-height:1.15;margin:0 0 1rem;overflow-wrap:anywhere}` +
	`h1 strong{color:var(--accent)}` +
	`p{color:var(--muted);margin:.25rem 0}` +
	`code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.95em}` +
	`ul{list-style:none;padding:0;text-align:left;display:inline-block}`

var contentSecurityPolicy = "default-src 'none'; style-src 'sha256-" + styleHash() +
	"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

const pageHead = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"

const pageStyleTag = "</title>\n<style>" + pageStyle + "</style>\n</head>\n<body>\n<main>\n"

const pageFoot = "</main>\n</body>\n</html>\n"

// chunkingThreshold is how much of a body net/http buffers before it
// sends it chunked. A body that fits gets a Content-Length from net/http,
// for GET and HEAD alike (it counts what HEAD's handler writes); a larger
// one must set its own, or HEAD, whose body is discarded, would carry no
// framing at all where GET is chunked. Plain-text and JSON greetings always
// fit: at most 137 and 1,576 bytes.
const chunkingThreshold = 2048

// contentLengths are the Content-Length values of HTML greetings, made
// once each, so that setting one costs no allocation.
var contentLengths [4096]atomic.Pointer[[]string]

func contentLength(n int) []string {
	if n >= len(contentLengths) {
		return []string{strconv.Itoa(n)}
	}
	if v := contentLengths[n].Load(); v != nil {
		return *v
	}
	v := []string{strconv.Itoa(n)}
	contentLengths[n].Store(&v)
	return v
}

// greetingBuffers hold greetings while they are rendered, so that each is
// written in one call and none allocates.
var greetingBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeGreeting writes "I love <noun>!" in format f, in one write.
func writeGreeting(w http.ResponseWriter, f format, noun string) {
	bp := greetingBuffers.Get().(*[]byte)
	b := appendGreeting((*bp)[:0], f, noun)
	if len(b) > chunkingThreshold {
		w.Header()["Content-Length"] = contentLength(len(b))
	}
	w.Write(b)
	*bp = b
	greetingBuffers.Put(bp)
}

// appendGreeting appends "I love <noun>!" in format f to b. The noun has
// passed printable, so it holds no control characters; each format escapes
// what its syntax needs.
func appendGreeting(b []byte, f format, noun string) []byte {
	switch f {
	case formatJSON:
		b = append(b, `{"noun":"`...)
		b = appendJSONString(b, noun)
		b = append(b, `","message":"I love `...)
		b = appendJSONString(b, noun)
		return append(b, "!\"}\n"...)
	case formatHTML:
		b = append(b, pageHead+"I love "...)
		b = appendHTMLEscaped(b, noun)
		b = append(b, "!"+pageStyleTag+`<h1>I love <strong id="noun">`...)
		b = appendHTMLEscaped(b, noun)
		b = append(b, "</strong>!</h1>\n"...)
		b = append(b, "<p>Try another noun: <code>/pancakes</code>, <code>/ice%20cream</code>, <code>/caf%C3%A9</code>.</p>\n"...)
		return append(b, pageFoot...)
	}
	b = append(b, "I love "...)
	b = append(b, noun...)
	return append(b, "!\n"...)
}

// appendHTMLEscaped appends s escaped as html.EscapeString escapes it.
func appendHTMLEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

const usageText = `echo_app tells you what it loves.

  GET /{noun}    I love {noun}!   (plain text, JSON or HTML, by the Accept header)
  GET /healthz   liveness: 200 while the process serves
  GET /readyz    readiness: 200 while serving, 503 once shutdown starts
  GET /metrics   Prometheus metrics

A noun is one path segment of at most 128 bytes, percent-decoded, in
Unicode NFC, without control, invisible or bidirectional formatting
characters.

Try: curl localhost:8080/alpacas
`

const usageJSON = `{"usage":"GET /{noun} answers I love {noun}!","max_noun_bytes":128,` +
	`"endpoints":[` +
	`{"path":"/{noun}","description":"I love {noun}! as text/plain, application/json or text/html, by the Accept header"},` +
	`{"path":"/healthz","description":"liveness: 200 while the process serves"},` +
	`{"path":"/readyz","description":"readiness: 200 while serving, 503 once shutdown starts"},` +
	`{"path":"/metrics","description":"Prometheus metrics"}]}` + "\n"

const usageHTML = pageHead + "echo_app" + pageStyleTag +
	"<h1>echo_app tells you what it <strong>loves</strong>.</h1>\n" +
	"<ul>\n<li><code>GET /{noun}</code> I love {noun}!</li>\n" +
	"<li><code>GET /healthz</code> liveness</li>\n" +
	"<li><code>GET /readyz</code> readiness</li>\n" +
	"<li><code>GET /metrics</code> Prometheus metrics</li>\n</ul>\n" +
	"<p>Try <code>/alpacas</code>.</p>\n" + pageFoot

var usage = [numFormats]string{
	formatText: usageText,
	formatJSON: usageJSON,
	formatHTML: usageHTML,
}

// appendJSONString appends s, which must be valid UTF-8, as the inside of
// a JSON string, escaping like encoding/json: quotes, backslashes, control
// characters, <, > and & (so the output is safe inside HTML), and the line
// separators U+2028 and U+2029 (so it is safe inside JavaScript).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, `\"`...)
			case '\\':
				b = append(b, `\\`...)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			start = i + size
		}
		i += size
	}
	return append(b, s[start:]...)
}
