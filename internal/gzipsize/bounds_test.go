package gzipsize

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rastringer/docker_multistage/bench/imagegen"
)

// sizes is the estimate of content's compressed size, its samples placed
// as imgcompare places them for a layer of this diff_id, and the exact
// size.
func sizes(t *testing.T, pool *Pool, content []byte) (estimated, exact int64) {
	t.Helper()
	sum := sha256.Sum256(content)
	e := NewEstimate(t.Context(), pool, stored{b: content}, Seed(hex.EncodeToString(sum[:])))
	if _, err := e.Write(content); err != nil {
		t.Fatal(err)
	}
	estimated, sampled, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if !sampled && len(content) > exactLimit {
		t.Fatalf("%d bytes compressed whole, not estimated", len(content))
	}
	exact, err = Exact(bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return estimated, exact
}

// within2 fails the test where estimated is over 2% off exact.
func within2(t *testing.T, name string, size int, estimated, exact int64) {
	t.Helper()
	off := 100 * float64(estimated-exact) / float64(exact)
	t.Logf("%s (%d MiB): estimated %d, exact %d bytes: %+.2f%%", name, size>>20, estimated, exact, off)
	if math.Abs(off) > 2 {
		t.Errorf("%s: the estimate is %+.2f%% off the exact size", name, off)
	}
}

// TestEstimateOnMixedContent checks the estimate's bound on generated
// layers large enough to be sampled (imagegen.MixedLayers): contents that
// compress very differently and change along the layer, periodic content
// whose period is a multiple of the estimator's segments, two kinds of
// segment whose level-6-to-proxy ratios differ, interleaved at the
// sampling period, text with one file of noise, which the spans that
// correct for compressing in pieces mostly miss, and text with noise in
// every 256 KiB, which the stream's blocks code together: within 2% of
// the exact size. bench/estimate holds them over ten seeds.
func TestEstimateOnMixedContent(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 1.4 GB at level 6 (make test runs it)")
	}
	pool := NewPool(2)
	defer pool.Close()
	for _, k := range imagegen.MixedLayers {
		content, err := k.Tar(0)
		if err != nil {
			t.Fatal(err)
		}
		estimated, exact := sizes(t, pool, content)
		within2(t, k.Name, len(content), estimated, exact)
	}
}

// TestEstimateOnBuildCache checks the estimate's bound where it has the
// fewest segments to sample: layers just over the size compressed whole
// (17 MiB), of a fresh Go build cache: the packages of imgcompare itself,
// compiled, with their export data, made by Go's compiler. Sampling one
// segment in 16 put all eight low, by up to 2.10%. Each layer: within 2%
// of its exact size.
func TestEstimateOnBuildCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds imgcompare from an empty cache (make test runs it)")
	}
	cache := t.TempDir()
	build := exec.Command("go", "build", "-o", os.DevNull, "../../cmd/imgcompare")
	build.Env = append(os.Environ(), "GOCACHE="+cache)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var files []string
	err := filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The files in path order, cut into layers of 17 MiB or more.
	var layers [][]byte
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(cache, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
		if buf.Len() >= 17<<20 || i == len(files)-1 && len(layers) == 0 {
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			layers = append(layers, bytes.Clone(buf.Bytes()))
			buf.Reset()
			tw = tar.NewWriter(&buf)
		}
	}
	if len(layers) < 3 {
		t.Fatalf("the build cache made %d layers of 17 MiB, want 3 or more", len(layers))
	}
	pool := NewPool(2)
	defer pool.Close()
	for i, content := range layers {
		if len(content) <= exactLimit {
			continue // the last, shorter, is compressed whole
		}
		estimated, exact := sizes(t, pool, content)
		within2(t, fmt.Sprintf("layer %d", i+1), len(content), estimated, exact)
	}
}
