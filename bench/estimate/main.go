// Command estimate measures how far imgcompare's compressed-size
// estimate falls from the exact size on the layers of imagegen that are
// made to defeat it, each generated with several seeds: every seed is
// other content of the same kind, so a layer of another diff_id, whose
// samples fall elsewhere. It prints a markdown table.
//
//	go run ./bench/estimate [-seeds N]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rastringer/docker_multistage/bench/imagegen"
	"github.com/rastringer/docker_multistage/internal/analysis"
)

func main() {
	seeds := flag.Int("seeds", 10, "layers of each kind")
	flag.Parse()
	fmt.Printf("`go run ./bench/estimate -seeds %d`: the estimate against the exact size (gzip level 6 of the layer), %d layers of each kind.\n\n", *seeds, *seeds)
	fmt.Println("| layer | MiB | mean | worst | held to 2% | what it attacks |")
	fmt.Println("|---|---:|---:|---:|---|---|")
	for _, m := range append(imagegen.MixedLayers, imagegen.Tokens) {
		errs := make([]float64, *seeds)
		var mib int
		var wg sync.WaitGroup
		slots := make(chan struct{}, 2)
		for s := range *seeds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				content, err := m.Tar(uint64(s))
				if err != nil {
					fail(err)
				}
				mib = len(content) >> 20
				errs[s] = estimateError(content)
			}()
		}
		wg.Wait()
		var mean, worst float64
		for _, e := range errs {
			mean += e / float64(len(errs))
			if math.Abs(e) > math.Abs(worst) {
				worst = e
			}
		}
		held := "yes (`TestEstimateOnMixedContent`)"
		if m.Name == imagegen.Tokens.Name {
			held = "no"
		}
		fmt.Printf("| %s | %d | %+.2f%% | %+.2f%% | %s | %s |\n", m.Name, mib, mean, worst, held, m.Why)
	}
}

// estimateError is how far the estimate of content's compressed size is
// from the exact one, in percent.
func estimateError(content []byte) float64 {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content)), nil
	})
	if err != nil {
		fail(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		fail(err)
	}
	size := func(c analysis.Compression) float64 {
		a, err := analysis.Analyze(context.Background(), img, analysis.Options{Compression: c})
		if err != nil {
			fail(err)
		}
		return float64(a.CompressedSize)
	}
	estimated, exact := size(analysis.Estimated), size(analysis.Computed)
	return 100 * (estimated - exact) / exact
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "estimate:", err)
	os.Exit(1)
}
