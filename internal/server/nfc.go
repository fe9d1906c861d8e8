package server

import (
	"slices"
	"sort"
)

//go:generate go run nfc_gen.go

// A noun must be spelled in Normalization Form C: café with é (U+00E9), not
// with e and a combining acute (U+0065 U+0301), which looks the same and
// would be another noun. The check needs no normalizer: a string is not in
// NFC if it holds a character that NFC never has (Å as ANGSTROM SIGN, CJK
// compatibility ideographs) or a character that NFC would compose with the
// letter before it, and the combining marks are in canonical order. It
// refuses only what is certainly not in NFC; what NFC would recompose only
// after reordering marks around an already composed letter (ê followed by
// a dot below) passes. nfc_test.go holds it against golang.org/x/text.

type runeRange struct{ lo, hi rune }

type cccRange struct {
	lo, hi rune
	ccc    uint8
}

// inNFC reports whether s, valid UTF-8, is spelled as NFC spells it, as
// far as the check above goes.
func inNFC(s string) bool {
	starter := rune(-1) // the last character of combining class 0
	var last uint8      // the combining class of the character before
	for _, r := range s {
		if r < 0x300 {
			// Nothing below U+0300 combines with what comes before,
			// and all of it is of class 0 and can occur in NFC.
			starter, last = r, 0
			continue
		}
		if inRange(r, notNFC) {
			return false
		}
		c := combiningClass(r)
		if c != 0 && last > c {
			return false // marks out of canonical order
		}
		// r can compose with the starter unless a mark between them
		// has a class as high as its own, or it is a starter itself
		// and not right after.
		if starter >= 0 && (last == 0 || last < c) && composes(starter, r) {
			return false
		}
		if c == 0 {
			starter = r
		}
		last = c
	}
	return true
}

func inRange(r rune, ranges []runeRange) bool {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i].hi >= r })
	return i < len(ranges) && ranges[i].lo <= r
}

func combiningClass(r rune) uint8 {
	i := sort.Search(len(combiningClasses), func(i int) bool { return combiningClasses[i].hi >= r })
	if i < len(combiningClasses) && combiningClasses[i].lo <= r {
		return combiningClasses[i].ccc
	}
	return 0
}

// Hangul syllables compose by arithmetic (Unicode 3.12).
const (
	hangulSBase, hangulSLast  = 0xac00, 0xd7a3
	hangulLBase, hangulLLast  = 0x1100, 0x1112
	hangulVBase, hangulVLast  = 0x1161, 0x1175
	hangulTFirst, hangulTLast = 0x11a8, 0x11c2
	hangulTCount              = 28
)

// composes reports whether NFC composes a followed by b into one character.
func composes(a, b rune) bool {
	switch {
	case hangulLBase <= a && a <= hangulLLast && hangulVBase <= b && b <= hangulVLast:
		return true
	case hangulSBase <= a && a <= hangulSLast && (a-hangulSBase)%hangulTCount == 0 && hangulTFirst <= b && b <= hangulTLast:
		return true
	}
	_, found := slices.BinarySearch(compositions, uint64(a)<<21|uint64(b))
	return found
}
