package server

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"strconv"
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

const (
	greetingHTMLStart = "!" + pageStyleTag + `<h1>I love <strong id="noun">`
	greetingHTMLEnd   = "</strong>!</h1>\n" +
		"<p>Try another noun: <code>/pancakes</code>, <code>/ice%20cream</code>, <code>/caf%C3%A9</code>.</p>\n" +
		pageFoot
)

// writeGreeting writes "I love <noun>!" in format f. The noun has passed
// printable, so it holds no control characters; each format escapes what
// its syntax needs.
func writeGreeting(w http.ResponseWriter, f format, noun string) {
	switch f {
	case formatJSON:
		io.WriteString(w, `{"noun":"`)
		writeJSONString(w, noun)
		io.WriteString(w, `","message":"I love `)
		writeJSONString(w, noun)
		io.WriteString(w, "!\"}\n")
	case formatHTML:
		escaped := html.EscapeString(noun)
		if n := len(pageHead+"I love "+greetingHTMLStart+greetingHTMLEnd) + 2*len(escaped); n > chunkingThreshold {
			w.Header()["Content-Length"] = contentLength(n)
		}
		io.WriteString(w, pageHead)
		io.WriteString(w, "I love ")
		io.WriteString(w, escaped)
		io.WriteString(w, greetingHTMLStart)
		io.WriteString(w, escaped)
		io.WriteString(w, greetingHTMLEnd)
	default:
		io.WriteString(w, "I love ")
		io.WriteString(w, noun)
		io.WriteString(w, "!\n")
	}
}

const usageText = `echo_app tells you what it loves.

  GET /{noun}    I love {noun}!   (plain text, JSON or HTML, by the Accept header)
  GET /healthz   liveness: 200 while the process serves
  GET /readyz    readiness: 200 while serving, 503 once shutdown starts
  GET /metrics   Prometheus metrics

A noun is one path segment of at most 128 bytes, percent-decoded,
without control or bidirectional formatting characters.

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

// writeJSONString writes s, which must be valid UTF-8, as the inside of a
// JSON string, escaping like encoding/json: quotes, backslashes, control
// characters, <, > and & (so the output is safe inside HTML), and the line
// separators U+2028 and U+2029 (so it is safe inside JavaScript).
func writeJSONString(w io.Writer, s string) {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			io.WriteString(w, s[start:i])
			switch b {
			case '"':
				io.WriteString(w, `\"`)
			case '\\':
				io.WriteString(w, `\\`)
			case '\b':
				io.WriteString(w, `\b`)
			case '\f':
				io.WriteString(w, `\f`)
			case '\n':
				io.WriteString(w, `\n`)
			case '\r':
				io.WriteString(w, `\r`)
			case '\t':
				io.WriteString(w, `\t`)
			default:
				io.WriteString(w, `\u00`+hex[b>>4:b>>4+1]+hex[b&0xf:b&0xf+1])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			io.WriteString(w, s[start:i])
			io.WriteString(w, `\u202`+hex[r&0xf:r&0xf+1])
			start = i + size
		}
		i += size
	}
	io.WriteString(w, s[start:])
}
