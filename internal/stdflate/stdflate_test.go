package stdflate

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"os"
	"testing"
)

// inputs are contents that compress differently: noise, text, zeros, a
// block of noise repeated, an ELF binary and Go source.
func inputs(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 160<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	repeated := make([]byte, 160<<10)
	for i := range repeated {
		repeated[i] = noise[i%1024]
	}
	var text []byte
	for len(text) < 160<<10 {
		text = append(text, "I love alpacas! I love llamas! "[:1+rng.IntN(30)]...)
	}
	in := map[string][]byte{
		"noise":    noise,
		"repeated": repeated,
		"text":     text,
		"zeros":    make([]byte, 160<<10),
		"empty":    nil,
	}
	binary, err := os.Executable() // this test, as Go's linker wrote it
	if err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"go binary": binary,
		"go source": "deflate.go",
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		in[name] = b[:min(len(b), 256<<10)]
	}
	return in
}

// compress writes data to w in three writes with a flush after the
// first, then closes it.
func compress(t testing.TB, w interface {
	Write([]byte) (int, error)
	Flush() error
	Close() error
}, data []byte) {
	a, b := len(data)/3, 2*len(data)/3
	for i, part := range [][]byte{data[:a], data[a:b], data[b:]} {
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestIdentical checks that this writer's output is the standard
// library's, byte for byte, on each path of its compressor, with and
// without a dictionary, made new or reset with ResetDict after other
// content.
func TestIdentical(t *testing.T) {
	in := inputs(t)
	// Each of the compressor's paths: Huffman only, stored, BestSpeed's
	// own, deflate without lazy matching (2 to 3) and with it (4 to 9).
	levels := []int{flate.HuffmanOnly, flate.NoCompression, flate.BestSpeed, 2, 4, flate.DefaultCompression, 6, flate.BestCompression}
	for name, data := range in {
		dicts := map[string][]byte{"no dictionary": nil, "32 KiB dictionary": in["go binary"][:32<<10], "short dictionary": in["text"][:1000]}
		for _, level := range levels {
			reused, err := NewWriter(&bytes.Buffer{}, level)
			if err != nil {
				t.Fatal(err)
			}
			compress(t, reused, in["noise"][:100<<10]) // state for ResetDict to discard
			for dname, dict := range dicts {
				var want bytes.Buffer
				w, err := flate.NewWriterDict(&want, level, dict)
				if err != nil {
					t.Fatal(err)
				}
				compress(t, w, data)

				var got bytes.Buffer
				ours, err := NewWriterDict(&got, level, dict)
				if err != nil {
					t.Fatal(err)
				}
				compress(t, ours, data)
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s, level %d, %s: NewWriterDict gives %d bytes unlike compress/flate's %d", name, level, dname, got.Len(), want.Len())
				}

				var again bytes.Buffer
				reused.ResetDict(&again, dict)
				compress(t, reused, data)
				if !bytes.Equal(again.Bytes(), want.Bytes()) {
					t.Errorf("%s, level %d, %s: ResetDict gives %d bytes unlike compress/flate's %d", name, level, dname, again.Len(), want.Len())
				}
			}
		}
	}
}

// FuzzIdentical compares this writer's output with the standard
// library's on any content, dictionary and level.
func FuzzIdentical(f *testing.F) {
	for _, b := range inputs(f) {
		f.Add(b[:min(len(b), 4096)], 100, 6)
	}
	f.Fuzz(func(t *testing.T, data []byte, dictLen, level int) {
		level = (level%12+12)%12 - 2 // HuffmanOnly to BestCompression
		dictLen = max(0, min(dictLen, len(data)))
		dict, data := data[:dictLen], data[dictLen:]
		var want, got bytes.Buffer
		w, err := flate.NewWriterDict(&want, level, dict)
		if err != nil {
			t.Fatal(err)
		}
		compress(t, w, data)
		ours, err := NewWriter(&bytes.Buffer{}, level)
		if err != nil {
			t.Fatal(err)
		}
		ours.ResetDict(&got, dict)
		compress(t, ours, data)
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("level %d, %d-byte dictionary: %d bytes unlike compress/flate's %d", level, len(dict), got.Len(), want.Len())
		}
	})
}
