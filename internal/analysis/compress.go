package analysis

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/s2"

	"github.com/rastringer/docker_multistage/internal/ctxio"
	"github.com/rastringer/docker_multistage/internal/stdflate"
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
	// estimateLayer) at many times its speed, within 2% of it on real
	// images.
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

// The estimate. A layer's stream is cut into 16 KiB segments. Every
// segment gets a cheap proxy for its compressed size: its Snappy-style
// encoding by klauspost/compress's s2 (matches, no entropy coding), counted
// at the order-0 entropy of that encoding (what Huffman coding would take
// off it), a few times faster than any deflate. In every run of 16
// segments, one, at a random place, is also compressed at level 6 by the
// standard library's compressor (internal/stdflate, byte for byte
// compress/flate), primed with the 32 KiB before it as its dictionary, as
// it would be in the stream.
//
// The ratio of level 6 to proxy varies far less along a stream than the
// compression ratio itself, but it is not the same for all content: noise
// takes about as much either way, while a run of repeats costs deflate
// far less than the proxy says. Content that mixes the two at the
// sampling period (one segment of noise in every 16, say) put a single
// ratio 4% off, whichever segment was drawn. So segments are put in
// classes by how far the proxy compresses them (see stratum), and each
// class's proxy total is scaled by the ratio of its own samples (see
// stratifiedSizes): the layer's size as 16 KiB pieces.
//
// Compressed apart, a piece gets Huffman tables of its own, where the
// stream's blocks run to 16,384 symbols. Where a piece compresses to some
// kilobytes, that makes it up to 2% smaller or larger than in the stream;
// where it compresses to a hundred bytes, a block's header is most of it,
// and the pieces come out half as large again as the stream. So in every
// run of 1,024 segments (16 MiB), a 256 KiB span at a random place is
// compressed both whole and in its 16 pieces (a flush after each: a block
// ends there), and the ratio of the two, credited to the classes of its
// pieces, corrects each class (see corrections). One ratio for all
// classes put a layer of text with a file of noise in every ten 30% off
// when no span fell on the noise.
//
// The places are random within each run, so no content can line up with
// them (a systematic sample, one segment in N, is off by -9.6% on files
// that each fill the sampling period); the random source is seeded with
// the layer's diff_id, so the same layer gives the same estimate. Layers
// of up to exactLimit bytes are compressed whole, exactly.
const (
	segmentSize = 16 << 10
	chunkSize   = 64 * segmentSize // what one job of the pool handles
	window      = 32 << 10
	sampleEvery = 16
	spanSegs    = 16   // segments in a span
	spanEvery   = 1024 // segments per span
	exactLimit  = 16 << 20
	gzipFraming = 18 // gzip's header and trailer, around one deflate stream

	strata            = 10
	minStratumSamples = 4  // samples for a class's own ratio
	minStratumPieces  = 16 // span pieces for a class's own correction
)

// stratum is the class of a segment of n bytes whose proxy is p bytes:
// one class for a proxy of at least 3/4 of the segment, one from 1/2,
// and below that one per halving, from [1/4, 1/2) down to under 1/256.
// The classes are finest where the pieces compress to little, since
// there a block's header weighs most.
func stratum(p float64, n int) int {
	q := p / float64(n)
	switch {
	case q >= 0.75:
		return strata - 1
	case q >= 0.5:
		return strata - 2
	}
	c := strata - 3
	for t := 0.25; q < t && c > 0; t /= 2 {
		c--
	}
	return c
}

// stratumTotals are the sums of one class of segments: their proxies;
// those of its samples, and the samples' level-6 sizes; the span pieces
// of the class, and their share of their spans compressed whole.
type stratumTotals struct {
	proxy, sampleProxy, sampleSlow float64
	samples                        int
	spanPieces, spanWhole          float64
	pieces                         int
}

func (t *stratumTotals) add(u stratumTotals) {
	t.proxy += u.proxy
	t.sampleProxy += u.sampleProxy
	t.sampleSlow += u.sampleSlow
	t.samples += u.samples
	t.spanPieces += u.spanPieces
	t.spanWhole += u.spanWhole
	t.pieces += u.pieces
}

// stratifiedSizes is the level-6 size of each class of segments, as
// pieces: its proxy total times the ratio of its samples, level 6 to
// proxy. A class with fewer than minStratumSamples samples takes the
// ratio of itself and the classes either side if they have enough
// together, and otherwise its own; one with no samples near it, that of
// the nearest that have some. The ratio changes steadily from class to
// class, so neighbours stand in for each other; far ones do not: a layer
// of text with one file of noise, which drew 4 samples, was 6% off when
// the noise took a ratio shared with the text's 373. On a Go toolchain
// layer, taking every sample's ratio for the classes with few was off by
// -2.6%.
func stratifiedSizes(classes [strata]stratumTotals) [strata]float64 {
	var sizes [strata]float64
	for c := range classes {
		t := classes[c]
		if t.samples < minStratumSamples {
			near := neighbours(classes, c, 1)
			if near.samples >= minStratumSamples || t.samples == 0 {
				t = near
			}
		}
		for d := 2; t.samples == 0 && d < strata; d++ {
			t = neighbours(classes, c, d)
		}
		if t.sampleProxy > 0 {
			sizes[c] = classes[c].proxy * t.sampleSlow / t.sampleProxy
		}
	}
	return sizes
}

// neighbours is the totals of classes c-d to c+d.
func neighbours(classes [strata]stratumTotals, c, d int) stratumTotals {
	var t stratumTotals
	for k := max(0, c-d); k <= min(strata-1, c+d); k++ {
		t.add(classes[k])
	}
	return t
}

// corrections is, for each class, the ratio of its span pieces' share of
// their spans compressed whole to their sum compressed in pieces. A class
// with fewer than minStratumPieces pieces takes the ratio of itself and
// the classes either side, and if they too have too few, none: the ratio
// is within 2% of 1 wherever pieces compress to kilobytes, and a class
// whose pieces compress to little fills spans with them when it holds
// bytes enough to matter.
func corrections(classes [strata]stratumTotals) [strata]float64 {
	var r [strata]float64
	for c := range classes {
		t := classes[c]
		if t.pieces < minStratumPieces {
			t = neighbours(classes, c, 1)
		}
		r[c] = 1
		if t.pieces >= minStratumPieces && t.spanPieces > 0 {
			r[c] = t.spanWhole / t.spanPieces
		}
	}
	return r
}

// chunkJob is a run of segments, with the window before it and the
// segments to sample.
type chunkJob struct {
	buf    *[]byte // window, then data; back to chunks once measured
	dict   int     // bytes of window at the start of buf
	n      int     // bytes of data after it
	sample []int   // segment indexes within the chunk
	span   int     // the first segment of a span in the chunk, or -1
	result *chunkResult
	done   *sync.WaitGroup
}

// chunks recycles chunk buffers: a window and a chunk.
var chunks = sync.Pool{New: func() any { b := make([]byte, window+chunkSize); return &b }}

type chunkResult struct {
	strata [strata]stratumTotals
	err    error
}

// segmentPool measures chunks on a fixed set of goroutines.
type segmentPool struct {
	jobs chan chunkJob
	wg   sync.WaitGroup
	once sync.Once
}

func newSegmentPool(ctx context.Context, workers int) *segmentPool {
	p := &segmentPool{jobs: make(chan chunkJob, workers)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			encoded := make([]byte, s2.MaxEncodedLen(segmentSize))
			var out countingWriter
			w, _ := stdflate.NewWriter(&out, stdflate.DefaultCompression)
			for j := range p.jobs {
				if ctx.Err() == nil {
					measureChunk(j, encoded, w, &out)
				}
				chunks.Put(j.buf)
				j.done.Done()
			}
		}()
	}
	return p
}

// measureChunk fills in j.result.
func measureChunk(j chunkJob, encoded []byte, w *stdflate.Writer, out *countingWriter) {
	buf := *j.buf
	data := buf[j.dict : j.dict+j.n]
	r := j.result
	proxies := make([]float64, 0, chunkSize/segmentSize)
	classes := make([]int, 0, chunkSize/segmentSize)
	for off := 0; off < len(data); off += segmentSize {
		seg := data[off:min(off+segmentSize, len(data))]
		p := proxySize(s2.Encode(encoded, seg))
		c := stratum(p, len(seg))
		proxies = append(proxies, p)
		classes = append(classes, c)
		r.strata[c].proxy += p
	}
	// level6 compresses segments [i, i+n) of the chunk as one stream and
	// returns its size, or in pieces, with a flush after each segment,
	// which ends a block there as compressing the segment apart does,
	// while later ones still reach back into the ones before, as the
	// dictionary does; then it returns the size of each piece in pieces.
	level6 := func(i, n int, pieces []float64) (float64, error) {
		start := j.dict + i*segmentSize
		end := min(start+n*segmentSize, j.dict+j.n)
		w.ResetDict(out, buf[max(0, start-window):start])
		out.n = 0
		if pieces == nil {
			w.Write(buf[start:end])
			err := w.Close()
			return float64(out.n), err
		}
		for k, off := 0, start; off < end; k, off = k+1, off+segmentSize {
			before := out.n
			w.Write(buf[off:min(off+segmentSize, end)])
			if err := w.Flush(); err != nil {
				return 0, err
			}
			pieces[k] = float64(out.n - before)
		}
		return float64(out.n), nil
	}
	for _, i := range j.sample {
		n, err := level6(i, 1, nil)
		if err != nil {
			r.err = err
			return
		}
		t := &r.strata[classes[i]]
		t.sampleProxy += proxies[i]
		t.sampleSlow += n
		t.samples++
	}
	if j.span >= 0 {
		var pieces [spanSegs]float64
		whole, err := level6(j.span, spanSegs, nil)
		var total float64
		if err == nil {
			total, err = level6(j.span, spanSegs, pieces[:])
		}
		if err != nil {
			r.err = err
			return
		}
		for k, p := range pieces {
			t := &r.strata[classes[j.span+k]]
			t.spanPieces += p
			t.spanWhole += p * whole / total
			t.pieces++
		}
	}
}

// proxySize is the bits an order-0 entropy coder would give encoded, in
// bytes: n·log2(n) − Σ c·log2(c) over the counts c of its byte values.
func proxySize(encoded []byte) float64 {
	// Four tables, so that a run of one byte value does not make each
	// increment wait for the one before.
	var counts [4][256]int32
	i := 0
	for ; i+4 <= len(encoded); i += 4 {
		counts[0][encoded[i]]++
		counts[1][encoded[i+1]]++
		counts[2][encoded[i+2]]++
		counts[3][encoded[i+3]]++
	}
	for ; i < len(encoded); i++ {
		counts[0][encoded[i]]++
	}
	bits := nlog2n[len(encoded)]
	for b := range 256 {
		bits -= nlog2n[counts[0][b]+counts[1][b]+counts[2][b]+counts[3][b]]
	}
	return bits/8 + 1
}

// nlog2n[n] is n·log2(n), for every length s2 can encode a segment to.
var nlog2n = func() []float64 {
	t := make([]float64, s2.MaxEncodedLen(segmentSize)+1)
	for n := 2; n < len(t); n++ {
		t[n] = float64(n) * math.Log2(float64(n))
	}
	return t
}()

func (p *segmentPool) close() {
	p.once.Do(func() { close(p.jobs) })
	p.wg.Wait()
}

// estimateLayer estimates the gzip level-6 size of a layer's stream, or
// computes it exactly for a layer of up to exactLimit bytes, and says
// which. It reads the layer once, holding its first exactLimit bytes and
// one more to learn which it is.
func estimateLayer(ctx context.Context, layer v1.Layer, pool *segmentPool) (int64, bool, error) {
	diffID, err := layer.DiffID()
	if err != nil {
		return 0, false, err
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return 0, false, err
	}
	defer rc.Close()
	r := ctxio.Reader(ctx, rc)
	head := heads.Get().(*[]byte)
	defer heads.Put(head)
	n, err := io.ReadFull(r, *head)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		n, err := gzipStream(bytes.NewReader((*head)[:n]))
		return n, false, err
	}
	if err != nil {
		return 0, false, err
	}
	var seed uint64
	if b, err := hex.DecodeString(diffID.Hex); err == nil && len(b) >= 8 {
		seed = binary.BigEndian.Uint64(b)
	}
	size, err := estimateStream(ctx, io.MultiReader(bytes.NewReader((*head)[:n]), r), pool, seed)
	return size, true, err
}

// heads recycles the buffers that hold the start of a layer while
// estimateLayer learns whether it is over exactLimit.
var heads = sync.Pool{New: func() any { b := make([]byte, exactLimit+1); return &b }}

// estimateStream estimates the level-6 size of a stream, sampling one
// segment in each run of sampleEvery at a place drawn from seed.
func estimateStream(ctx context.Context, r io.Reader, pool *segmentPool, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, 0x696d67636f6d70))
	// A span in one chunk of every spanChunks, at a random one.
	const spanChunks = spanEvery * segmentSize / chunkSize
	spanAt, chunk := rng.IntN(spanChunks), 0
	var results []*chunkResult
	var done sync.WaitGroup
	prev := make([]byte, 0, window) // the window before the next chunk
	for {
		buf := chunks.Get().(*[]byte)
		b := *buf
		dict := copy(b, prev)
		n, err := io.ReadFull(r, b[dict:dict+chunkSize])
		if n > 0 {
			res := &chunkResult{}
			results = append(results, res)
			segs := (n + segmentSize - 1) / segmentSize
			var sample []int
			for run := 0; run < segs; run += sampleEvery {
				if i := run + rng.IntN(sampleEvery); i < segs {
					sample = append(sample, i)
				}
			}
			span := -1
			if chunk%spanChunks == spanAt && segs >= spanSegs {
				span = rng.IntN(segs - spanSegs + 1)
			}
			if chunk%spanChunks == spanChunks-1 {
				spanAt = rng.IntN(spanChunks)
			}
			chunk++
			prev = append(prev[:0], b[max(0, dict+n-window):dict+n]...)
			done.Add(1)
			select {
			case pool.jobs <- chunkJob{buf: buf, dict: dict, n: n, sample: sample, span: span, result: res, done: &done}:
			case <-ctx.Done():
				done.Done()
				done.Wait()
				return 0, ctx.Err()
			}
		} else {
			chunks.Put(buf)
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
	var classes [strata]stratumTotals
	for _, res := range results {
		if res.err != nil {
			return 0, res.err
		}
		for c, t := range res.strata {
			classes[c].add(t)
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Without samples, every class's size is 0: the stream's is its framing.
	sizes, fix := stratifiedSizes(classes), corrections(classes)
	var size float64
	for c := range classes {
		size += sizes[c] * fix[c]
	}
	return int64(size) + gzipFraming, nil
}
