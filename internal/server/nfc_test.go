package server

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestNFCNeverRefusesNFC: every character alone, and every character after
// every letter that begins a composition, is refused only if
// golang.org/x/text says it is not in NFC.
func TestNFCNeverRefusesNFC(t *testing.T) {
	firsts := map[rune]bool{'a': true, 'z': true, 0x1100: true, 0xac00: true, 0xac01: true}
	for _, p := range compositions {
		firsts[rune(p>>21)] = true
	}
	var seconds []rune
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		s := string(r)
		if got, want := inNFC(s), norm.NFC.IsNormalString(s); got != want {
			t.Errorf("inNFC(%U) = %v, x/text says %v", r, got, want)
		}
		if combiningClass(r) != 0 || r < 0x3000 && r >= 0x300 || (r >= 0x1100 && r <= 0x11ff) {
			seconds = append(seconds, r)
		}
	}
	missed := 0
	for a := range firsts {
		for _, b := range seconds {
			s := string(a) + string(b)
			got, want := inNFC(s), norm.NFC.IsNormalString(s)
			if !got && want {
				t.Fatalf("inNFC(%U %U) refuses an NFC spelling", a, b)
			}
			if got && !want {
				missed++
			}
		}
	}
	t.Logf("%d firsts × %d seconds: %d non-NFC pairs pass (marks NFC would reorder)", len(firsts), len(seconds), missed)
}

// TestNFCRefusesDecomposedSpellings: the NFD spelling of every character
// that has one, café with a combining acute among them, is refused.
func TestNFCRefusesDecomposedSpellings(t *testing.T) {
	n := 0
	for r := rune(0x80); r <= utf8.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		d := norm.NFD.String(string(r))
		if d == string(r) || !norm.NFC.IsNormalString(string(r)) {
			continue
		}
		n++
		if inNFC(d) {
			t.Errorf("the decomposed spelling of %U (% x) passes", r, d)
		}
	}
	if !inNFC("café") || inNFC("cafe\u0301") {
		t.Error("café: the NFC spelling must pass and the NFD one must not")
	}
	t.Logf("%d decomposed spellings refused", n)
}

// TestNFCWordsPass: words of many scripts, as people type them (NFC),
// pass; random strings of letters and marks agree with x/text whenever
// the check refuses.
func TestNFCWordsPass(t *testing.T) {
	for _, w := range []string{
		"café", "naïve", "Ærøskøbing", "Ελληνικά", "ἀλήθεια", "Tiếng Việt", "русский", "עברית",
		"العربية", "فارسی", "हिन्दी", "ज़रूरत", "বাংলা", "தமிழ்", "ಕನ್ನಡ", "മലയാളം", "తెలుగు", "සිංහල",
		"한국어", "日本語", "がぎぐ", "中文", "ไทย", "ᄀ", "🦙", "👨‍👩‍👧",
	} {
		w = norm.NFC.String(w)
		if !inNFC(w) {
			t.Errorf("inNFC(%q) = false for an NFC spelling", w)
		}
	}
	alphabet := []rune("aeiouAEIOUnckgsy\u0300\u0301\u0302\u0303\u0308\u0323\u0327\u0328\u031b\u0345αωεηιυ\u0313\u0314\u0342" +
		"\u0915\u093c\u0938\u093f\u094d\u0b95\u0bbe\u0bc6\u0bc7\u0bd7\u0d15\u0d3e\u0d46\u1100\u1161\u11a8\uac00\u304b\u3099")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b strings.Builder
		for range 1 + rng.IntN(5) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if !inNFC(s) && norm.NFC.IsNormalString(s) {
			t.Fatalf("inNFC(%+q) refuses an NFC spelling", s)
		}
	}
}
