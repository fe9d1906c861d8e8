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
// cannot be shown safely or is not spelled in Unicode NFC. An empty noun
// with status 200 means the root.
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
	if strings.IndexByte(u.RawPath, '#') >= 0 {
		// A fragment never belongs in a request; a noun with # in it
		// comes as %23.
		return "", http.StatusBadRequest
	}
	noun := path[1:]
	if noun == "." || noun == ".." {
		return "", http.StatusNotFound
	}
	if len(noun) > MaxNounBytes {
		return "", http.StatusRequestURITooLong
	}
	if !printable(noun) || !inNFC(noun) {
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
	tagDigit0 = '\U000e0030'
	tagLowerA = '\U000e0061'
	cancelTag = '\U000e007f'
)

// joinable reports whether the invisible r, between prev and next (0 at
// either end), is part of a sequence that needs it:
//   - a variation selector after a symbol, non-ASCII punctuation, a keycap
//     base (0-9, # and *), a Han ideograph or a Mongolian letter: emoji and
//     text presentation (❤️, 1️⃣) and ideographic variants (UTS #51, UTS #37);
//   - a zero-width joiner between two symbols outside ASCII, the one
//     before perhaps followed by a variation selector or an emoji
//     modifier, which are symbols too: emoji ZWJ sequences (👨‍👩‍👧, 🏳️‍🌈);
//     between ASCII symbols ($‍$) it would only make $$ look alike;
//   - a zero-width joiner or non-joiner between two letters or marks of a
//     script that writes with them (Arabic and its neighbours, the
//     Brahmic scripts), as in Persian می‌خواهم;
//   - tag characters after 🏴 ending in CANCEL TAG: subdivision flags
//     (🏴󠁧󠁢󠁳󠁣󠁴󠁿), whose tags are the lowercase letters and digits of a
//     region code (UTS #51); other tags could spell any hidden text.
//
// Anywhere else an invisible code point only makes two different nouns look
// alike, so it is refused.
func joinable(prev, r, next rune) bool {
	switch {
	case unicode.Is(unicode.Variation_Selector, r):
		return variationBase(prev)
	case r == zwj && (emojiSymbol(prev) || unicode.Is(unicode.Variation_Selector, prev)) && emojiSymbol(next):
		return true
	case r == zwj || r == zwnj:
		return joiningScript(prev) && joiningScript(next)
	case regionTag(r):
		return (prev == blackFlag || regionTag(prev)) && (regionTag(next) || next == cancelTag)
	case r == cancelTag:
		return regionTag(prev)
	}
	return false
}

// emojiSymbol reports whether r is a symbol outside ASCII, as every emoji
// is.
func emojiSymbol(r rune) bool {
	return r >= utf8.RuneSelf && unicode.IsSymbol(r)
}

// regionTag reports whether r is a tag letter a-z or a tag digit 0-9, the
// tags of a subdivision flag.
func regionTag(r rune) bool {
	return tagDigit0 <= r && r <= tagDigit0+9 || tagLowerA <= r && r <= tagLowerA+25
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
