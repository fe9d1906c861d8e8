package analysis

import (
	"math"
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

func TestStratifiedSizes(t *testing.T) {
	var classes [strata]stratumTotals
	// Enough samples: the class's own ratio.
	classes[9] = stratumTotals{proxy: 1000, sampleProxy: 100, sampleSlow: 100, samples: 8}
	// Too few, and too few either side too: still its own.
	classes[7] = stratumTotals{proxy: 1000, sampleProxy: 100, sampleSlow: 80, samples: 2}
	// None, with enough next to it: the neighbours'.
	classes[3] = stratumTotals{proxy: 1000}
	classes[2] = stratumTotals{proxy: 10, sampleProxy: 100, sampleSlow: 50, samples: 4}
	// None near: the nearest with some (classes 2 and 3, at distance 2).
	classes[0] = stratumTotals{proxy: 1000}
	sizes := stratifiedSizes(classes)
	for c, want := range map[int]float64{9: 1000, 7: 800, 3: 500, 2: 5, 0: 500, 1: 0, 8: 0} {
		if math.Abs(sizes[c]-want) > 1e-9 {
			t.Errorf("class %d: size %v, want %v", c, sizes[c], want)
		}
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
