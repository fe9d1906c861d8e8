package analysis

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// BenchmarkAnalyze reads a generated 256 MiB image, one layer of sixteen
// 16 MiB files, computing its compressed size. It reports throughput and
// the peak Go heap, which must not grow with the image.
func BenchmarkAnalyze(b *testing.B) {
	const files, size = 16, 16 << 20
	layer, err := it.GeneratedLayer(files, size)
	if err != nil {
		b.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	b.SetBytes(files * size)
	b.ReportAllocs()
	for b.Loop() {
		a, err := Analyze(context.Background(), img, Options{Largest: 5, Compression: Computed})
		if err != nil {
			b.Fatal(err)
		}
		if a.Files != files {
			b.Fatalf("%d files, want %d", a.Files, files)
		}
	}
	close(done)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
