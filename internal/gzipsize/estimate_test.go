package gzipsize

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestStratum(t *testing.T) {
	for _, c := range []struct {
		proxy float64
		want  int
	}{
		{16384, strata - 1}, {12288, strata - 1}, {12287, strata - 2}, {8192, strata - 2},
		{8191, strata - 3}, {4096, strata - 3}, {4095, strata - 4}, {2048, strata - 4},
		{64, 1}, {63, 0}, {1, 0}, {20000, strata - 1},
	} {
		if got := stratum(c.proxy, segmentSize); got != c.want {
			t.Errorf("stratum(%v of %d) = %d, want %d", c.proxy, segmentSize, got, c.want)
		}
	}
}

func TestPlan(t *testing.T) {
	// 4,096 segments: 4,000 of noise, 90 of text, 6 of zeros.
	proxies := make([]float64, 4096)
	class := make([]uint8, len(proxies))
	for i := range proxies {
		switch {
		case i%64 == 0 && i < 64*90:
			proxies[i] = 4000
		case i%683 == 1:
			proxies[i] = 10
		default:
			proxies[i] = 16000
		}
		class[i] = uint8(stratum(proxies[i], segmentSize))
	}
	samples, spans := plan(proxies, class, rand.New(rand.NewPCG(1, 2)))
	var per [strata]int
	for i, s := range samples {
		if i > 0 && s <= samples[i-1] {
			t.Fatalf("samples not in stream order, or twice: %d after %d", s, samples[i-1])
		}
		per[class[s]]++
	}
	// Shares of the proxy total: noise 99.44% (509.1 of 512 samples,
	// rounded up), text 0.56% (2.9, raised to classMinimum), zeros 0.
	noise, text, zeros := stratum(16000, segmentSize), stratum(4000, segmentSize), stratum(10, segmentSize)
	if per[noise] != 510 || per[text] != 4 || per[zeros] != 4 {
		t.Errorf("samples per class: noise %d, text %d, zeros %d; want 510, 4, 4", per[noise], per[text], per[zeros])
	}
	if len(spans) != layerSpans {
		t.Fatalf("%d spans, want %d", len(spans), layerSpans)
	}
	stretch := len(proxies) / layerSpans
	for k, s := range spans {
		if s < k*stretch || s+spanSegs > (k+1)*stretch {
			t.Errorf("span %d at segment %d, outside its stretch [%d, %d)", k, s, k*stretch, (k+1)*stretch)
		}
	}
	again, _ := plan(proxies, class, rand.New(rand.NewPCG(1, 2)))
	if !slices.Equal(samples, again) {
		t.Error("the same seed drew other samples")
	}
}

func TestCorrections(t *testing.T) {
	var classes [strata]stratumTotals
	classes[0] = stratumTotals{spanPieces: 200, spanWhole: 120, pieces: 16}
	classes[5] = stratumTotals{spanPieces: 100, spanWhole: 99, pieces: 10}
	classes[6] = stratumTotals{spanPieces: 100, spanWhole: 101, pieces: 10}
	fix := corrections(classes)
	for c, want := range map[int]float64{0: 0.6, 1: 0.6, 2: 1, 5: 1, 6: 1, 9: 1, 4: 1} {
		if math.Abs(fix[c]-want) > 1e-9 {
			t.Errorf("class %d: correction %v, want %v", c, fix[c], want)
		}
	}
	// Classes 5 and 6 together have 20 pieces: each takes their ratio;
	// class 7 reaches only class 6's 10.
	classes[6].spanWhole = 97
	fix = corrections(classes)
	want := (99.0 + 97) / 200
	if math.Abs(fix[5]-want) > 1e-9 || math.Abs(fix[6]-want) > 1e-9 || fix[7] != 1 {
		t.Errorf("corrections 5, 6, 7 = %v, %v, %v; want %v, %v, 1", fix[5], fix[6], fix[7], want, want)
	}
	// A class with no spans, far from any that has: no correction.
	if fix[9] != 1 {
		t.Errorf("class 9: correction %v, want 1", fix[9])
	}
}

// stream is n bytes of words and, every 256 KiB, 16 KiB of noise.
func stream(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"layer ", "image ", "alpaca ", "diff_id ", "whiteout ", "\n"}
	b := make([]byte, 0, n)
	for len(b) < n {
		if len(b)%(256<<10) < 16<<10 {
			b = append(b, byte(rng.Uint32()))
		} else {
			b = append(b, words[rng.IntN(len(words))]...)
		}
	}
	return b[:n]
}

// estimateStream estimates the level-6 size of the stream r as the walk
// does: r feeds the first pass, as the walk's read feeds an Estimate,
// and again the second, with places drawn from seed.
func estimateStream(ctx context.Context, r io.Reader, again Stream, pool *Pool, seed uint64) (int64, error) {
	e := &Estimate{ctx: ctx, again: again, pool: pool, first: newProxyWriter(ctx, pool)}
	if _, err := io.Copy(e.first, r); err != nil {
		e.first.close()
		return 0, err
	}
	return e.estimate(seed)
}

// stored is a stream of b, for the estimate's second read.
type stored struct{ b []byte }

func (s stored) Uncompressed() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(s.b)), nil }

func TestEstimateStream(t *testing.T) {
	data := stream(20 << 20)
	pool := NewPool(2)
	defer pool.Close()
	again := stored{b: data}
	got, err := estimateStream(t.Context(), bytes.NewReader(data), again, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Exact(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if off := 100 * float64(got-want) / float64(want); math.Abs(off) > 2 {
		t.Errorf("estimated %d, exact %d: %+.2f%%", got, want, off)
	}

	// Read again, the stream ends early: an error, not an estimate.
	short := stored{b: data[:len(data)/2]}
	if _, err := estimateStream(t.Context(), bytes.NewReader(data), short, pool, 1); err == nil || !strings.Contains(err.Error(), "reading the layer again") {
		t.Errorf("second read cut short: err = %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := estimateStream(ctx, bytes.NewReader(data), again, pool, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestMoreSamples(t *testing.T) {
	class := make([]uint8, 16384)
	for i := range class {
		class[i] = strata - 1
	}
	var taken []int
	for i := 0; i < len(class); i += 32 {
		taken = append(taken, i)
	}
	// totals gives class 9 the samples taken, of proxy 16,000 each, at
	// level-6 sizes slow(k) for the k-th.
	totals := func(slow func(k int) float64) [strata]stratumTotals {
		var classes [strata]stratumTotals
		t := &classes[strata-1]
		t.proxy = 16000 * float64(len(class))
		for k := range taken {
			p, s := 16000.0, slow(k)
			t.sampleProxy += p
			t.sampleSlow += s
			t.samples++
			t.pp += p * p
			t.ss += s * s
			t.ps += p * s
		}
		return classes
	}
	// One ratio, a little noise: the standard error is far under 0.5%.
	steady := totals(func(k int) float64 { return 15800 + float64(k%7) })
	if more := moreSamples(steady, class, taken, rand.New(rand.NewPCG(1, 2))); len(more) != 0 {
		t.Errorf("steady ratios: %d more samples, want none", len(more))
	}
	// Two ratios, 1.0 and 0.39, in one class, as words s2 takes for noise
	// among noise: more samples, new ones, in order, at most maxSamples.
	mixed := totals(func(k int) float64 {
		if k%16 == 0 {
			return 16000
		}
		return 6240
	})
	more := moreSamples(mixed, class, taken, rand.New(rand.NewPCG(1, 2)))
	if len(more) == 0 || len(more) > maxSamples {
		t.Fatalf("mixed ratios: %d more samples, want 1 to %d", len(more), maxSamples)
	}
	for i, m := range more {
		if m%32 == 0 || i > 0 && m <= more[i-1] {
			t.Fatalf("sample %d at segment %d: taken already, or out of order", i, m)
		}
	}
}
