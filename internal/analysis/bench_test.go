package analysis

import (
	"archive/tar"
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/rastringer/docker_multistage/bench/imagegen"
)

// BenchmarkAnalyze reads a generated 256 MiB image, one layer of sixteen
// 16 MiB files, computing its compressed size. It reports throughput and
// the peak Go heap, which must not grow with the image.
func BenchmarkAnalyze(b *testing.B) {
	const files, size = 16, 16 << 20
	layer, err := imagegen.Layer(files, size)
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

// BenchmarkWhiteouts applies a layer of n files in 100 directories and a
// layer that whites out half of them: the cost must grow linearly with n.
func BenchmarkWhiteouts(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 80_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			files := make([]*tar.Header, n)
			whiteouts := make([]*tar.Header, n/2)
			for i := range files {
				files[i] = &tar.Header{Name: fmt.Sprintf("d%02d/f%06d", i%100, i), Typeflag: tar.TypeReg, Size: 1}
			}
			for i := range whiteouts {
				whiteouts[i] = &tar.Header{Name: fmt.Sprintf("d%02d/.wh.f%06d", (2*i)%100, 2*i), Typeflag: tar.TypeReg}
			}
			for b.Loop() {
				fs := newFSTree()
				for _, h := range files {
					if err := fs.apply(h, 0); err != nil {
						b.Fatal(err)
					}
				}
				for _, h := range whiteouts {
					if err := fs.apply(h, 1); err != nil {
						b.Fatal(err)
					}
				}
				left := 0
				fs.walk(func(string, *node) { left++ })
				if left != n-n/2+100 {
					b.Fatalf("%d paths left, want %d", left, n-n/2+100)
				}
			}
		})
	}
}
