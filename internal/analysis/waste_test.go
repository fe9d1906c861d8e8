package analysis

import (
	"context"
	"math"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// TestWasteEdges pins dive's figures on the stacks where they differ from
// a plain reading of the layers; test/images checks the same stacks
// against dive itself. Layer sizes are Docker's: a name listed twice in a
// layer is written once.
func TestWasteEdges(t *testing.T) {
	want := map[string]struct {
		minimums, cumulative, wasted int64
		userPercent                  float64
		layerSizes                   []int64
	}{
		"a top layer that only deletes":         {5000, 105000, 100000, math.Inf(1), []int64{105000, 0}},
		"a whiteout of nothing stops its layer": {2999, 3000, 0, 0, []int64{3000, 1200}}, // -1 for /n, as dive counts it
		"inside a symlinked directory":          {3009, 3010, 0, 0, []int64{3014, 20}},
		"an opaque directory removed":           {30000, 60000, 30000, math.Inf(1), []int64{30000, 0, 0}},
		"a directory only implied":              {5100, 5100, 0, 0, []int64{5000, 100, 0}},
		"a directory, a file, a directory":      {30000, 60400, 30400, 7600, []int64{30000, 400, 0, 0}},
		"a name listed twice":                   {1000, 5000, 5000, 100 * 5000.0 / 7000, []int64{1000, 4000}},
		"29% exactly":                           {100000, 114500, 29000, 29, []int64{14500, 100000}},
	}
	for _, s := range it.WasteEdges() {
		t.Run(s.Name, func(t *testing.T) {
			w, ok := want[s.Name]
			if !ok {
				t.Fatal("no figures for this stack")
			}
			var steps []it.Step
			for _, l := range s.Layers {
				steps = append(steps, it.By("RUN", it.Layer(t, l...)))
			}
			img, err := Analyze(context.Background(), it.Image(t, v1.Config{}, steps...), Options{Largest: 10, Compression: Estimated})
			if err != nil {
				t.Fatal(err)
			}
			checkHidden(t, img)
			got := img.Waste
			if got.Minimums != w.minimums || got.Cumulative != w.cumulative || got.WastedBytes != w.wasted {
				t.Errorf("minimums %d, cumulative %d, wasted %d; want %d, %d, %d", got.Minimums, got.Cumulative, got.WastedBytes, w.minimums, w.cumulative, w.wasted)
			}
			if got.UserWastedPercent != w.userPercent {
				t.Errorf("user wasted %v%%, want %v%%", got.UserWastedPercent, w.userPercent)
			}
			var sizes []int64
			for _, l := range img.Layers {
				sizes = append(sizes, l.Size)
			}
			if !slices.Equal(sizes, w.layerSizes) {
				t.Errorf("layer sizes %v, want %v", sizes, w.layerSizes)
			}
		})
	}
}
