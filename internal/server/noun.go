package server

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNounBytes is the longest noun, in bytes after percent-decoding, that
// the server greets. Longer ones get 414 URI Too Long.
const MaxNounBytes = 128

// nounOf returns the noun named by the request path and the status that
// the path deserves: 200 for a noun, 404 for anything that is not a single
// path segment, 414 for a noun over MaxNounBytes and 400 for a noun that
// cannot be shown safely. An empty noun with status 200 means the root.
//
// It reads the decoded path that net/http already made, so the hot path
// allocates nothing.
func nounOf(u *url.URL) (string, int) {
	path := u.Path
	if path == "" || path == "/" {
		return "", http.StatusOK
	}
	if path[0] != '/' {
		return "", http.StatusNotFound
	}
	// A slash in the escaped path separates segments; %2F inside one
	// segment is part of the noun ("/AC%2FDC"). RawPath is set only when
	// the escaped form differs from the default encoding of Path.
	escaped := path
	if u.RawPath != "" {
		escaped = u.RawPath
	}
	if strings.IndexByte(escaped[1:], '/') >= 0 {
		return "", http.StatusNotFound
	}
	noun := path[1:]
	if noun == "." || noun == ".." {
		return "", http.StatusNotFound
	}
	if len(noun) > MaxNounBytes {
		return "", http.StatusRequestURITooLong
	}
	if !printable(noun) {
		return "", http.StatusBadRequest
	}
	return noun, http.StatusOK
}

// printable reports whether s is valid UTF-8 free of control characters
// (C0, DEL, C1) and of the Unicode bidirectional formatting characters that
// can make text read differently from how it is stored.
func printable(s string) bool {
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
		i += size
	}
	return true
}
