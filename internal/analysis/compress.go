package analysis

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rastringer/docker_multistage/internal/ctxio"
	"github.com/rastringer/docker_multistage/internal/gzipsize"
)

// Compression says how CompressedSize was obtained.
type Compression string

const (
	// Stored: the sizes of the layers as the source stores them (an OCI
	// layout or archive, a tarball of compressed layers): what a registry
	// holds. Formats says how they are compressed.
	Stored Compression = "stored"
	// Computed: each layer gzip-compressed here at Go's default level (6),
	// as docker push compresses them. Exact, and the slow part of an
	// analysis.
	Computed Compression = "computed"
	// Estimated: the size Computed would give, estimated (see
	// gzipsize.Estimate) at many times its speed, within 2% of it on
	// real images.
	Estimated Compression = "estimated"
)

// format names how a stored layer is compressed, from its media type.
func format(mt types.MediaType) string {
	switch mt {
	case types.OCILayerZStd:
		return "zstd"
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		return "uncompressed"
	}
	return "gzip"
}

// compressAll measures the compressed size of every layer, exactly or by
// estimate, on every CPU, while the caller walks the layers' files. The
// exact sizes are computed from reads of their own, layers in parallel.
// An estimate's first pass is fed the walk's own read of the layer
// instead: feed gives the writer to copy layer i's stream to, and read
// says when the walk has read it whole and found it to be the stream its
// diff_id names. wait waits for the sizes.
func compressAll(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash, estimate bool) (feed func(i int) io.Writer, read func(i int), wait func() ([]int64, bool, error)) {
	sizes := make([]int64, len(layers))
	estimated := make([]bool, len(layers))
	errs := make([]error, len(layers))
	workers := runtime.GOMAXPROCS(0)
	pool := gzipsize.NewPool(workers)
	var wg sync.WaitGroup
	feed = func(int) io.Writer { return nil }
	read = func(int) {}
	if estimate {
		feeds := make([]*gzipsize.Estimate, len(layers))
		for i, layer := range layers {
			feeds[i] = gzipsize.NewEstimate(ctx, pool, layer, gzipsize.Seed(diffIDs[i].Hex))
		}
		feed = func(i int) io.Writer { return feeds[i] }
		read = func(i int) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sizes[i], estimated[i], errs[i] = feeds[i].Finish()
			}()
		}
	} else {
		slots := make(chan struct{}, workers)
		for i, layer := range layers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					errs[i] = ctx.Err()
					return
				}
				defer func() { <-slots }()
				sizes[i], errs[i] = gzipSize(ctx, layer)
			}()
		}
	}
	wait = func() ([]int64, bool, error) {
		wg.Wait()
		pool.Close()
		for i, err := range errs {
			if err != nil {
				return nil, false, layerError(diffIDs, i, fmt.Errorf("compressing: %w", err))
			}
		}
		return sizes, slices.Contains(estimated, true), nil
	}
	return feed, read, wait
}

// gzipSize is the size of the whole uncompressed layer stream, tar
// padding included, gzip-compressed at the default level.
func gzipSize(ctx context.Context, layer v1.Layer) (int64, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return gzipsize.Exact(ctxio.Reader(ctx, rc))
}
