package analysis

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kflate "github.com/klauspost/compress/flate"

	"github.com/rastringer/docker_multistage/internal/ctxio"
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
	// estimateLayer) at many times its speed, within 2% of it.
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

// countingWriter counts what is written to it and keeps nothing.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// compressAll measures the compressed size of every layer, exactly or by
// estimate, on every CPU, while the caller walks the layers' files. The
// returned function waits for the sizes.
func compressAll(ctx context.Context, layers []v1.Layer, diffIDs []v1.Hash, estimate bool) func() ([]int64, bool, error) {
	sizes := make([]int64, len(layers))
	estimated := make([]bool, len(layers))
	errs := make([]error, len(layers))
	workers := runtime.GOMAXPROCS(0)
	pool := newSegmentPool(ctx, workers)
	var wg sync.WaitGroup
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
			if estimate {
				sizes[i], estimated[i], errs[i] = estimateLayer(ctx, layer, pool)
			} else {
				sizes[i], errs[i] = gzipSize(ctx, layer)
			}
		}()
	}
	return func() ([]int64, bool, error) {
		wg.Wait()
		pool.close()
		for i, err := range errs {
			if err != nil {
				return nil, false, layerError(diffIDs, i, fmt.Errorf("compressing: %w", err))
			}
		}
		return sizes, slices.Contains(estimated, true), nil
	}
}

// gzipSize is the size of the whole uncompressed layer stream, tar
// padding included, gzip-compressed at the default level.
func gzipSize(ctx context.Context, layer v1.Layer) (int64, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return gzipStream(ctxio.Reader(ctx, rc))
}

func gzipStream(r io.Reader) (int64, error) {
	var n countingWriter
	gz := gzip.NewWriter(&n)
	if _, err := io.Copy(gz, r); err != nil {
		return 0, err
	}
	if err := gz.Close(); err != nil {
		return 0, err
	}
	return n.n, nil
}

// The estimate. A layer's stream is cut into segments; every segment is
// compressed with a fast compressor (klauspost/compress's deflate at level
// 4, several times faster than the standard library's level 6; its lower
// levels decide between stored and coded blocks by heuristics that make
// their size track level 6's less closely), and a
// systematic sample of them is also compressed with the standard library
// at level 6. The layer's level-6 size is its fast size times the ratio of
// level 6 to fast on the sample: the ratio between two deflate levels
// varies far less along a stream than the compression ratio itself, so a
// sample of 64 segments or more pins it down. Each segment is compressed
// with the 32 KiB before it as its dictionary, as it would be in the
// stream. Layers of up to exactLimit bytes are compressed whole, exactly.
const (
	segmentSize = 256 << 10
	window      = 32 << 10
	minSamples  = 64
	maxEvery    = 16
	exactLimit  = 16 << 20
	gzipFraming = 18 // gzip's header and trailer, around one deflate stream
)

type segmentJob struct {
	dict, data []byte // data goes back to segments once compressed
	sample     bool
	result     *segmentResult
	done       *sync.WaitGroup
}

// segments recycles segment buffers.
var segments = sync.Pool{New: func() any { b := make([]byte, segmentSize); return &b }}

type segmentResult struct {
	fast, slow int64
	err        error
}

// segmentPool compresses segments on a fixed set of goroutines.
type segmentPool struct {
	jobs chan segmentJob
	wg   sync.WaitGroup
	once sync.Once
}

func newSegmentPool(ctx context.Context, workers int) *segmentPool {
	p := &segmentPool{jobs: make(chan segmentJob, workers)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			var fastOut, slowOut countingWriter
			fast, _ := kflate.NewWriter(&fastOut, 4)
			for j := range p.jobs {
				if ctx.Err() == nil {
					fastOut.n = 0
					fast.ResetDict(&fastOut, j.dict)
					fast.Write(j.data)
					j.result.err = fast.Close()
					j.result.fast = fastOut.n
					if j.sample && j.result.err == nil {
						slowOut.n = 0
						slow, err := flate.NewWriterDict(&slowOut, flate.DefaultCompression, j.dict)
						if err == nil {
							slow.Write(j.data)
							err = slow.Close()
						}
						j.result.slow, j.result.err = slowOut.n, err
					}
				}
				segments.Put(&j.data)
				j.done.Done()
			}
		}()
	}
	return p
}

func (p *segmentPool) close() {
	p.once.Do(func() { close(p.jobs) })
	p.wg.Wait()
}

// estimateLayer estimates the gzip level-6 size of a layer's stream, or
// computes it exactly for a small layer, and says which. It reads a large
// layer twice: once to learn its length, which sets the sampling
// interval, then to compress it.
func estimateLayer(ctx context.Context, layer v1.Layer, pool *segmentPool) (int64, bool, error) {
	length, err := streamLength(ctx, layer)
	if err != nil {
		return 0, false, err
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, false, err
	}
	defer rc.Close()
	r := ctxio.Reader(ctx, rc)
	if length <= exactLimit {
		n, err := gzipStream(r)
		return n, false, err
	}
	segments := int((length + segmentSize - 1) / segmentSize)
	n, err := estimateStream(ctx, r, pool, estimateEvery(segments))
	return n, true, err
}

func streamLength(ctx context.Context, layer v1.Layer) (int64, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := *segments.Get().(*[]byte)
	defer segments.Put(&buf)
	var n int64
	for {
		m, err := rc.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}

// estimateEvery is the sampling interval for a stream of n segments:
// every segment up to minSamples, then fewer, down to one in maxEvery.
func estimateEvery(n int) int {
	return max(1, min(maxEvery, n/minSamples))
}

// estimateStream estimates the level-6 size of a stream, sampling one
// segment in every.
func estimateStream(ctx context.Context, r io.Reader, pool *segmentPool, every int) (int64, error) {
	var results []*segmentResult
	var done sync.WaitGroup
	var prev []byte // the window before the next segment
	for i := 0; ; i++ {
		buf := *segments.Get().(*[]byte)
		n, err := io.ReadFull(r, buf[:segmentSize])
		if n > 0 {
			res := &segmentResult{}
			results = append(results, res)
			done.Add(1)
			dict := prev
			if n >= window {
				prev = append([]byte(nil), buf[n-window:n]...)
			} else {
				prev = nil
			}
			select {
			case pool.jobs <- segmentJob{dict: dict, data: buf[:n], sample: i%every == every/2, result: res, done: &done}:
			case <-ctx.Done():
				done.Done()
				done.Wait()
				return 0, ctx.Err()
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			done.Wait()
			return 0, err
		}
	}
	done.Wait()
	var fast, sampleFast, sampleSlow int64
	for _, res := range results {
		if res.err != nil {
			return 0, res.err
		}
		fast += res.fast
		if res.slow > 0 {
			sampleFast += res.fast
			sampleSlow += res.slow
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if sampleFast == 0 {
		return gzipFraming, nil
	}
	return int64(float64(fast)*float64(sampleSlow)/float64(sampleFast)) + gzipFraming, nil
}
