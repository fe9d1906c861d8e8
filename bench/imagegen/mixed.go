package imagegen

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand/v2"
)

// Mixed is a layer of generated files meant to defeat a compressed-size
// estimate: contents that compress very differently, change along the
// layer, or line up with the estimate's segments and samples.
type Mixed struct {
	Name  string
	Files int
	Size  int // of each file's content
	// Fill writes file i's content, seeded by i and seed.
	Fill func(i int, seed uint64, b []byte)
	// Why is what the layer attacks.
	Why string
}

// Header is the size of each file's tar header: names of 100 bytes
// exactly keep it at 512.
const Header = 512

const text = "I love alpacas! I love llamas! "

// periodic fills a file with noise for a quarter, then text.
func periodic(i int, seed uint64, b []byte) {
	rng := rand.New(rand.NewPCG(uint64(i), 3+seed))
	for j := range b {
		if j < len(b)/4 {
			b[j] = byte(rng.Uint32())
		} else {
			b[j] = text[(j+i)%len(text)]
		}
	}
}

// MixedLayers are the layers the estimate is held to, each at least
// 96 MiB so that it is sampled.
var MixedLayers = []Mixed{
	{"periodic 64 KiB", 1536, 64<<10 - Header, periodic, "a file's header and content fill 64 KiB exactly, noise then text: lines up with any systematic sample"},
	{"periodic 256 KiB", 384, 256<<10 - Header, periodic, "the same at 256 KiB"},
	{"periodic 1 MiB", 96, 1<<20 - Header, periodic, "the same at 1 MiB"},
	{"periodic 4 MiB", 100, 4<<20 - Header, periodic, "the same at 4 MiB, as the issue found it"},
	{"interleaved", 64, 4<<20 - Header, func(i int, seed uint64, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(i), 4+seed))
		block := make([]byte, 1<<10)
		for j := range block {
			block[j] = byte(rng.Uint32())
		}
		for j := range b {
			if (j/(16<<10))%16 == 0 {
				b[j] = byte(rng.Uint32())
			} else {
				b[j] = block[j%len(block)]
			}
		}
	}, "in every 256 KiB, one 16 KiB segment of noise and fifteen of a 1 KiB block of noise repeated, whose level-6-to-proxy ratios differ, at the sampling period"},
	{"text and a file of noise", 96, 1<<20 - Header, func(i int, seed uint64, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(i), 5+seed))
		for j := range b {
			if i == 40 {
				b[j] = byte(rng.Uint32())
			} else {
				b[j] = text[(j+i)%len(text)]
			}
		}
	}, "text with one file of noise, most of the compressed size: a span on the text finds pieces half as large again as the whole, the noise does not"},
	{"words with noise in every 256 KiB", 24, 4<<20 - Header, func(i int, seed uint64, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(i), 7+seed))
		words := []string{"layer ", "image ", "alpaca ", "diff_id ", "whiteout ", "\n"}
		for j := 0; j < len(b); {
			if (j/(16<<10))%16 == 0 {
				b[j] = byte(rng.Uint32())
				j++
			} else {
				j += copy(b[j:], words[rng.IntN(len(words))])
			}
		}
	}, "text drawn from six words, with 16 KiB of noise in every 256 KiB: the stream's blocks mix the two under one Huffman code, 5% larger than the two compressed apart"},
	{"letters", 48, 2 << 20, func(i int, seed uint64, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(i), 1+seed))
		for j := range b {
			b[j] = "abcdefghijklmnop"[rng.IntN(16)]
		}
	}, "pseudo-random over 16 letters, like code"},
	{"mixed", 48, 2 << 20, func(i int, seed uint64, b []byte) {
		rng := rand.New(rand.NewPCG(uint64(i), 2+seed))
		switch i % 3 {
		case 0:
			for j := range b {
				b[j] = text[(j+i)%len(text)]
			}
		case 1:
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
	}, "text, noise and zeros in turn, file by file"},
}

// Tokens is a layer the estimate is not held to: in every 256 KiB, one
// 16 KiB segment of noise and fifteen of 5-byte words drawn from 1,024 of
// noise. s2 skips over the words as it does over noise, while deflate
// matches them: one class of the estimate, two ratios of level 6 to
// proxy, 1.0 and 0.39.
var Tokens = Mixed{"tokens among noise", 64, 4<<20 - Header, func(i int, seed uint64, b []byte) {
	rng := rand.New(rand.NewPCG(uint64(i), 6+seed))
	words := make([][5]byte, 1024)
	for j := range words {
		for k := range words[j] {
			words[j][k] = byte(rng.Uint32())
		}
	}
	for j := 0; j < len(b); {
		if (j/(16<<10))%16 == 0 {
			b[j] = byte(rng.Uint32())
			j++
		} else {
			j += copy(b[j:], words[rng.IntN(len(words))][:])
		}
	}
}, "5-byte words that s2 skips over and deflate matches, with noise in the same class"}

// Tar is m's layer as a tar stream, its content drawn from seed.
func (m Mixed) Tar(seed uint64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(m.Files * (m.Size + Header))
	tw := tar.NewWriter(&buf)
	b := make([]byte, m.Size)
	for i := range m.Files {
		clear(b)
		m.Fill(i, seed, b)
		h := &tar.Header{Name: fmt.Sprintf("data/%094d", i), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
