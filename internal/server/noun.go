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

// printable reports whether s is valid UTF-8 and shows what it holds: no
// control characters (C0, DEL, C1), no Unicode bidirectional formatting
// characters that make text read differently from how it is stored, no
// noncharacters, and no invisible code points (Unicode's
// Default_Ignorable_Code_Point) except where the sequences people type need
// them (see joinable).
func printable(s string) bool {
	var prev rune // the previous rune, 0 at the start
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return false
			}
			prev = rune(b)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.Is(unicode.Noncharacter_Code_Point, r) {
			return false
		}
		if ignorable(r) {
			var next rune
			if i+size < len(s) {
				next, _ = utf8.DecodeRuneInString(s[i+size:])
			}
			if !joinable(prev, r, next) {
				return false
			}
		}
		prev = r
		i += size
	}
	return true
}

// ignorable reports whether r is a Default_Ignorable_Code_Point, derived as
// Unicode's DerivedCoreProperties.txt derives it: Other_Default_Ignorable_
// Code_Point, format characters (Cf) and variation selectors, less white
// space, the interlinear annotation and Egyptian hieroglyph format controls
// and the prepended concatenation marks, which are visible.
func ignorable(r rune) bool {
	if r < 0xad {
		return false
	}
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
		!(0xfff9 <= r && r <= 0xfffb) && !(0x13430 <= r && r <= 0x1343f)
}

const (
	zwnj      = '\u200c'
	zwj       = '\u200d'
	blackFlag = '\U0001f3f4'
	tagFirst  = '\U000e0020'
	tagLast   = '\U000e007e'
	cancelTag = '\U000e007f'
)

// joinable reports whether the invisible r, between prev and next (0 at
// either end), is part of a sequence that needs it:
//   - a variation selector after a symbol, non-ASCII punctuation, a keycap
//     base (0-9, # and *), a Han ideograph or a Mongolian letter: emoji and
//     text presentation (❤️, 1️⃣) and ideographic variants (UTS #51, UTS #37);
//   - a zero-width joiner between two symbols, the one before perhaps
//     followed by a variation selector or an emoji modifier, which are
//     symbols too: emoji ZWJ sequences (👨‍👩‍👧, 🏳️‍🌈);
//   - a zero-width joiner or non-joiner between two letters or marks of a
//     script that writes with them (Arabic and its neighbours, the
//     Brahmic scripts), as in Persian می‌خواهم;
//   - tag characters after 🏴 ending in CANCEL TAG: subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
//
// Anywhere else an invisible code point only makes two different nouns look
// alike, so it is refused.
func joinable(prev, r, next rune) bool {
	switch {
	case unicode.Is(unicode.Variation_Selector, r):
		return variationBase(prev)
	case r == zwj && (unicode.IsSymbol(prev) || unicode.Is(unicode.Variation_Selector, prev)) && unicode.IsSymbol(next):
		return true
	case r == zwj || r == zwnj:
		return joiningScript(prev) && joiningScript(next)
	case tagFirst <= r && r <= tagLast:
		return (prev == blackFlag || tagFirst <= prev && prev <= tagLast) && tagFirst <= next && next <= cancelTag
	case r == cancelTag:
		return tagFirst <= prev && prev <= tagLast
	}
	return false
}

func variationBase(r rune) bool {
	switch {
	case r >= '0' && r <= '9', r == '#', r == '*':
		return true
	case r < utf8.RuneSelf:
		return false
	}
	return unicode.In(r, unicode.S, unicode.P, unicode.Han, unicode.Mongolian)
}

// joinerScripts are the scripts whose words use ZWJ and ZWNJ: those with
// Arabic-style joining, and the Brahmic scripts, where they shape a
// consonant after a virama.
var joinerScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya,
	unicode.Tamil, unicode.Telugu, unicode.Kannada, unicode.Malayalam, unicode.Sinhala,
	unicode.Tibetan, unicode.Myanmar, unicode.Khmer,
}

func joiningScript(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsMark(r)) && unicode.In(r, joinerScripts...)
}
