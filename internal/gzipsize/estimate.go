// Package gzipsize gives the size a layer's stream takes gzip-compressed
// at Go's default level (6), as docker push compresses it: exactly
// (Exact), or estimated at many times the speed (Estimate), within 2% of
// the exact size on real layers and on every kind of content
// bench/estimate holds it to.
package gzipsize

import (
	"bytes"
	"cmp"
	goflate "compress/flate"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/s2"

	"github.com/rastringer/docker_multistage/internal/ctxio"
)

// countingWriter counts what is written to it and keeps nothing.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// Exact is the size of what r reads, gzip-compressed at the default
// level by the standard library, as docker push computes it.
func Exact(r io.Reader) (int64, error) {
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

// A Stream is what an estimate reads a second time: a layer's
// uncompressed stream, from its start. A v1.Layer is one.
type Stream interface {
	Uncompressed() (io.ReadCloser, error)
}

// The estimate. A layer's stream is cut into 16 KiB segments and passed
// over twice: first as the walk reads it (the walk copies it to a
// Estimate), then by a read of its own. The first pass gives every
// segment a cheap proxy for its
// compressed size: its Snappy-style encoding by klauspost/compress's s2
// (matches, no entropy coding), counted at the order-0 entropy of that
// encoding (what Huffman coding would take off it), a few times faster
// than any deflate. The second pass compresses a few hundred of the
// segments, samples, each primed with the 32 KiB before it as its
// dictionary, as it would be in the stream, at level 7 by
// klauspost/compress/flate, whose writer takes a new dictionary without
// allocating (see sampled).
//
// The ratio of compressed size to proxy varies far less along a stream than the
// compression ratio itself, but it is not the same for all content: noise
// takes about as much either way, while a run of repeats costs deflate
// far less than the proxy says. So segments are put in classes by how far
// the proxy compresses them (see stratum), and each class's proxy total
// is scaled by the ratio of its own samples: the layer's size as 16 KiB
// pieces. Content that mixed the two at the sampling period (one segment
// of noise in every 16) put a single ratio 4% off.
//
// The error of a ratio estimated from samples depends on how many there
// are, not on what share of the layer they are: one sample in every 16
// segments left a 17 MiB layer with 68 of them, and layers of a Go build
// cache that size up to 2.1% low. Having read the layer once, the second pass knows every
// class's proxy total, so it takes a fixed number of samples per layer
// (see plan), shared among the classes by their proxy totals, so that
// the classes holding most of the compressed bytes get most of the
// samples, and every class at least a few. The samples also tell how far
// off the estimate may be: where its standard error is over 0.5%, a third
// pass takes more (see moreSamples). Real layers do not need it, or
// barely; words that s2 takes for noise, among noise, in one class with
// it, do: with it, such layers went from -3.83% at worst to +1.38%.
//
// Compressed apart, a piece gets Huffman tables of its own, where the
// stream's blocks run to 16,384 symbols. Where a piece compresses to some
// kilobytes, that makes it up to 2% smaller or larger than in the stream;
// where it compresses to a hundred bytes, a block's header is most of it,
// and the pieces come out half as large again as the stream. So a few
// 256 KiB spans per layer are compressed both whole and in their 16
// pieces (a flush after each: a block ends there), and the ratio of the
// two, credited to the classes of its pieces, corrects each class (see
// corrections). One ratio for all classes put a layer of text with a
// file of noise in every ten 30% off when no span fell on the noise.
//
// Samples and spans fall at random places within runs of their class or
// of the layer, so no content can line up with them (a systematic
// sample, one segment in N, is off by -9.6% on files that each fill the
// sampling period); the random source is seeded with the layer's
// diff_id, so the same layer gives the same estimate. Layers of up to
// exactLimit bytes are compressed whole, exactly.
//
// The spans, compressed whole, are the standard library's level 6, the
// compressor docker push uses, while their pieces and the samples are
// klauspost's: the corrections also carry each class from one compressor
// to the other. So the estimate follows the standard library of the Go
// release that builds it, as Exact does.
const (
	segmentSize  = 16 << 10
	chunkSize    = 64 * segmentSize // what one job of the first pass measures
	window       = 32 << 10
	layerSamples = 512 // samples per layer
	classMinimum = 4   // samples for every class that has as many segments
	layerSpans   = 8   // spans per layer
	spanSegs     = 16  // segments in a span
	exactLimit   = 16 << 20
	gzipFraming  = 18 // gzip's header and trailer, around one deflate stream

	strata           = 10
	minStratumPieces = 16 // span pieces for a class's own correction
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
// those of its samples, and the samples' compressed sizes; the span pieces
// of the class, and their share of their spans compressed whole.
type stratumTotals struct {
	proxy, sampleProxy, sampleSlow float64
	samples                        int
	// the sums of squares and products of the samples' proxies (p) and
	// compressed sizes (s), for the variance of their ratio
	pp, ss, ps            float64
	spanPieces, spanWhole float64
	pieces                int
}

func (t *stratumTotals) add(u stratumTotals) {
	t.proxy += u.proxy
	t.sampleProxy += u.sampleProxy
	t.sampleSlow += u.sampleSlow
	t.samples += u.samples
	t.pp += u.pp
	t.ss += u.ss
	t.ps += u.ps
	t.spanPieces += u.spanPieces
	t.spanWhole += u.spanWhole
	t.pieces += u.pieces
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
// the classes either side if they have enough together, and otherwise its
// own; a class with none, that of the classes either side if they have
// enough, and otherwise none. The ratio is not only about the pieces'
// size: in a layer of text with 16 KiB of noise in every 256 KiB, the
// stream's blocks mix the two under one Huffman code, the spans come out
// 5% larger whole than in pieces, and the noise, with 8 pieces, taking no
// correction put the layer 2.5% off. A class whose pieces compress to
// little fills spans with them when it holds bytes enough to matter, so
// one no span reached takes no ratio from far classes: a layer of text
// with one file of noise was 25% off when the noise took the text's.
func corrections(classes [strata]stratumTotals) [strata]float64 {
	var r [strata]float64
	for c := range classes {
		t := classes[c]
		if t.pieces < minStratumPieces {
			if near := neighbours(classes, c, 1); near.pieces >= minStratumPieces || t.pieces == 0 {
				t = near
			}
		}
		r[c] = 1
		if t.pieces > 0 && (t.pieces >= minStratumPieces || t.pieces == classes[c].pieces) {
			r[c] = t.spanWhole / t.spanPieces
		}
	}
	return r
}

// worker is what one goroutine of the pool measures with.
type worker struct {
	encoded []byte // s2's output
	out     countingWriter
	flate   *flate.Writer // one compressor, reset for each sample
}

// A Pool runs estimates' work on a fixed set of goroutines, shared by
// the estimates of an image's layers.
type Pool struct {
	jobs chan func(*worker)
	wg   sync.WaitGroup
	once sync.Once
}

// NewPool starts a pool of workers goroutines.
func NewPool(workers int) *Pool {
	p := &Pool{jobs: make(chan func(*worker), workers)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w := &worker{encoded: make([]byte, s2.MaxEncodedLen(segmentSize))}
			w.flate, _ = flate.NewWriter(&w.out, sampleLevel)
			for job := range p.jobs {
				job(w)
			}
		}()
	}
	return p
}

// Close stops the pool, once its jobs are done.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.jobs) })
	p.wg.Wait()
}

// submit hands job to the pool, unless ctx ends first.
func (p *Pool) submit(ctx context.Context, job func(*worker)) error {
	select {
	case p.jobs <- job:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sampleLevel is the level of klauspost's compressor for the samples and
// span pieces: its lazy matching is the standard library's level 6 with
// shorter chains, and put bench/estimate's kinds nearest the exact size
// (levels 6 and 8: up to 2.19% and 1.92% off, 7: 1.93%).
const sampleLevel = 7

// sampled is the size of data, compressed after dict, in a stream of its
// own, by the samples' compressor; with pieces, it is compressed in
// segments, with a flush after each, which ends a block there as
// compressing the segment apart does, while later ones still reach back
// into the ones before, as the dictionary does, and pieces receives the
// size of each.
//
// The standard library's writer takes a dictionary only when it is made,
// and a new one is 0.8 MB of tables to allocate and fault in: made for
// each sample, it took the estimate on the project's 335 MB image from
// 1.0 s to 1.4 s. klauspost's ResetDict primes the one writer.
func (w *worker) sampled(dict, data []byte, pieces []float64) (float64, error) {
	w.flate.ResetDict(&w.out, dict)
	w.out.n = 0
	if pieces == nil {
		w.flate.Write(data)
		err := w.flate.Close()
		return float64(w.out.n), err
	}
	for k := 0; k*segmentSize < len(data); k++ {
		before := w.out.n
		w.flate.Write(data[k*segmentSize : min((k+1)*segmentSize, len(data))])
		if err := w.flate.Flush(); err != nil {
			return 0, err
		}
		pieces[k] = float64(w.out.n - before)
	}
	return float64(w.out.n), nil
}

// whole is the standard library's level-6 size of data, compressed
// after dict, in a stream of its own: a span compressed whole.
func (w *worker) whole(dict, data []byte) (float64, error) {
	w.out.n = 0
	fw, err := goflate.NewWriterDict(&w.out, goflate.DefaultCompression, dict)
	if err != nil {
		return 0, err
	}
	fw.Write(data)
	err = fw.Close()
	return float64(w.out.n), err
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

// An Estimate estimates the gzip level-6 size of a stream, as written to
// it, or computes it exactly for a stream of up to exactLimit bytes. It
// holds the first exactLimit bytes and one more to learn which.
type Estimate struct {
	ctx   context.Context
	again Stream // the stream, for the second pass
	seed  uint64 // where the samples fall
	pool  *Pool
	head  *[]byte // from heads, until the layer is known to be over exactLimit
	held  int
	first *proxyWriter // the first pass, once it is
}

// Seed is where an estimate places the samples of the stream whose
// sha256 digest is hexDigest in hex (a layer's diff_id): the same layer,
// the same estimate.
func Seed(hexDigest string) uint64 {
	if b, err := hex.DecodeString(hexDigest); err == nil && len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// NewEstimate estimates the size of the stream written to it on pool;
// again reads the stream a second time, if the estimate needs it. The
// same seed and stream give the same estimate.
func NewEstimate(ctx context.Context, pool *Pool, again Stream, seed uint64) *Estimate {
	return &Estimate{ctx: ctx, again: again, seed: seed, pool: pool}
}

func (e *Estimate) Write(p []byte) (int, error) {
	n := len(p)
	if e.first == nil {
		if e.head == nil {
			e.head = heads.Get().(*[]byte)
		}
		k := copy((*e.head)[e.held:], p)
		e.held += k
		if e.held < len(*e.head) {
			return n, nil
		}
		e.first = newProxyWriter(e.ctx, e.pool)
		_, err := e.first.Write(*e.head)
		heads.Put(e.head)
		e.head = nil
		if err != nil {
			return 0, err
		}
		p = p[k:]
	}
	if _, err := e.first.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// Finish gives the size, once the whole stream has been written, and
// says whether it is an estimate.
func (e *Estimate) Finish() (int64, bool, error) {
	if e.first == nil {
		var head []byte
		if e.head != nil {
			head = (*e.head)[:e.held]
			defer heads.Put(e.head)
		}
		n, err := Exact(bytes.NewReader(head))
		return n, false, err
	}
	size, err := e.estimate(e.seed)
	return size, true, err
}

// heads recycles the buffers that hold the start of a layer while
// an Estimate learns whether it is over exactLimit.
var heads = sync.Pool{New: func() any { b := make([]byte, exactLimit+1); return &b }}

// estimate ends the first pass and makes the second.
func (e *Estimate) estimate(seed uint64) (int64, error) {
	proxies, length, err := e.first.close()
	if err != nil {
		return 0, err
	}
	var classes [strata]stratumTotals
	class := make([]uint8, len(proxies))
	for i, p := range proxies {
		c := stratum(p, min(segmentSize, int(length-int64(i)*segmentSize)))
		class[i] = uint8(c)
		classes[c].proxy += p
	}
	rng := rand.New(rand.NewPCG(seed, 0x696d67636f6d70))
	samples, spans := plan(proxies, class, rng)
	again := func(samples, spans []int) error {
		rc, err := e.again.Uncompressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		return slowPass(e.ctx, ctxio.Reader(e.ctx, rc), length, proxies, class, samples, spans, e.pool, &classes)
	}
	if err := again(samples, spans); err != nil {
		return 0, err
	}
	if more := moreSamples(classes, class, samples, rng); len(more) > 0 {
		if err := again(more, nil); err != nil {
			return 0, err
		}
	}
	fix := corrections(classes)
	var size float64
	for c, t := range classes {
		if t.sampleProxy > 0 {
			size += t.proxy * t.sampleSlow / t.sampleProxy * fix[c]
		}
	}
	return int64(size) + gzipFraming, nil
}

// chunks recycles the first pass's buffers.
var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// proxyWriter is the first pass: it measures the proxy of each segment
// of what is written to it, a chunk at a time, on the pool.
type proxyWriter struct {
	ctx    context.Context
	pool   *Pool
	buf    *[]byte // the chunk being filled
	filled int
	parts  []*[]float64 // each chunk's proxies
	length int64
	done   sync.WaitGroup
	err    error
}

func newProxyWriter(ctx context.Context, pool *Pool) *proxyWriter {
	return &proxyWriter{ctx: ctx, pool: pool}
}

func (w *proxyWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = chunks.Get().(*[]byte)
		}
		k := copy((*w.buf)[w.filled:], p)
		w.filled += k
		p = p[k:]
		if w.filled == chunkSize {
			if w.err = w.submit(); w.err != nil {
				return 0, w.err
			}
		}
	}
	return n, nil
}

// submit hands the chunk being filled to the pool.
func (w *proxyWriter) submit() error {
	buf, n, ctx := w.buf, w.filled, w.ctx
	w.buf, w.filled = nil, 0
	part := make([]float64, 0, (n+segmentSize-1)/segmentSize)
	w.parts = append(w.parts, &part)
	w.length += int64(n)
	w.done.Add(1)
	job := func(wk *worker) {
		defer w.done.Done()
		defer chunks.Put(buf)
		data := (*buf)[:n]
		for off := 0; off < n && ctx.Err() == nil; off += segmentSize {
			seg := data[off:min(off+segmentSize, n)]
			part = append(part, proxySize(s2.Encode(wk.encoded, seg)))
		}
	}
	if err := w.pool.submit(ctx, job); err != nil {
		w.done.Done()
		chunks.Put(buf)
		return err
	}
	return nil
}

// close measures what is left, waits for every chunk, and returns the
// proxy of each segment and the stream's length.
func (w *proxyWriter) close() ([]float64, int64, error) {
	if w.err == nil && w.filled > 0 {
		w.err = w.submit()
	} else if w.buf != nil {
		chunks.Put(w.buf)
		w.buf = nil
	}
	w.done.Wait()
	if w.err != nil {
		return nil, 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		return nil, 0, err
	}
	proxies := make([]float64, 0, (w.length+segmentSize-1)/segmentSize)
	for _, p := range w.parts {
		proxies = append(proxies, *p...)
	}
	return proxies, w.length, nil
}

// plan draws the segments to compress: layerSamples samples,
// shared among the classes in proportion to their proxy totals, every
// class with at least classMinimum (or all it has), each drawn at random
// within a run of its class's segments in stream order; and layerSpans
// spans, each at a random place within its own stretch of the layer. It
// returns both in stream order.
func plan(proxies []float64, class []uint8, rng *rand.Rand) (samples, spans []int) {
	var members [strata][]int
	var totals [strata]float64
	var all float64
	for i, p := range proxies {
		members[class[i]] = append(members[class[i]], i)
		totals[class[i]] += p
		all += p
	}
	for c, m := range members {
		if len(m) == 0 {
			continue
		}
		n := int(math.Ceil(layerSamples * totals[c] / all))
		n = min(max(n, classMinimum), len(m))
		for k := range n {
			lo, hi := k*len(m)/n, (k+1)*len(m)/n
			samples = append(samples, m[lo+rng.IntN(hi-lo)])
		}
	}
	slices.Sort(samples)
	stretch := len(proxies) / layerSpans
	for k := 0; stretch >= spanSegs && k < layerSpans; k++ {
		spans = append(spans, k*stretch+rng.IntN(stretch-spanSegs+1))
	}
	return samples, spans
}

// maxStandardError is the standard error of the estimate, relative to
// it, beyond which a layer gets more samples; maxSamples bounds them.
const (
	maxStandardError = 0.005
	maxSamples       = 8 * layerSamples
)

// moreSamples draws the samples a third pass should add, in stream order,
// or none. It estimates the variance of each class's ratio from its
// samples (a ratio estimator's: the spread of their sizes about the ratio
// times the proxy); where the estimate's standard error is over
// maxStandardError, it gives each class the samples that bring it there
// (n ∝ the spread of its contribution, Neyman's allocation), at most
// maxSamples in all, drawn at random among the segments of the class not
// yet sampled. Real layers stay under it with the first samples; content
// whose ratios differ within one class, such as words s2 takes for noise
// among noise, does not.
func moreSamples(classes [strata]stratumTotals, class []uint8, taken []int, rng *rand.Rand) []int {
	var members [strata]int
	for _, c := range class {
		members[c]++
	}
	var spread [strata]float64 // per sample: the class's contribution's standard deviation
	var variance, size, sum float64
	for c, t := range classes {
		if t.samples == 0 || t.sampleProxy == 0 {
			continue
		}
		r := t.sampleSlow / t.sampleProxy
		size += t.proxy * r
		if t.samples < 2 {
			continue
		}
		n := float64(t.samples)
		s2 := max(0, t.ss-2*r*t.ps+r*r*t.pp) / (n - 1)
		mean := t.sampleProxy / n
		spread[c] = t.proxy * math.Sqrt(s2) / mean
		variance += spread[c] * spread[c] / n * (1 - n/float64(members[c]))
		sum += spread[c]
	}
	target := maxStandardError * size
	if size == 0 || variance <= target*target {
		return nil
	}
	var extra [strata]int
	total := 0
	for c, t := range classes {
		want := int(math.Ceil(spread[c] * sum / (target * target)))
		extra[c] = min(max(0, want-t.samples), members[c]-t.samples)
		total += extra[c]
	}
	if total > maxSamples {
		for c := range extra {
			extra[c] = extra[c] * maxSamples / total
		}
	}
	sampled := make(map[int]bool, len(taken))
	for _, i := range taken {
		sampled[i] = true
	}
	var free [strata][]int
	for i, c := range class {
		if extra[c] > 0 && !sampled[i] {
			free[c] = append(free[c], i)
		}
	}
	var more []int
	for c, m := range free {
		n := extra[c]
		for k := range n {
			lo, hi := k*len(m)/n, (k+1)*len(m)/n
			more = append(more, m[lo+rng.IntN(hi-lo)])
		}
	}
	slices.Sort(more)
	return more
}

// regions recycles the second pass's buffers: a window and a span.
var regions = sync.Pool{New: func() any { b := make([]byte, window+spanSegs*segmentSize); return &b }}

// slowPass reads the stream again, to its length, and compresses the
// samples and spans (segment indexes, each in stream order) on the pool,
// adding them to classes.
func slowPass(ctx context.Context, r io.Reader, length int64, proxies []float64, class []uint8, samples, spans []int, pool *Pool, classes *[strata]stratumTotals) error {
	type region struct {
		first, segs int
		dict        int // bytes of window before the first segment
		size        float64
		pieces      [spanSegs]float64
		err         error
	}
	// The regions in order of their ends; none is longer than a window
	// and a span.
	var all []*region
	for _, s := range samples {
		all = append(all, &region{first: s, segs: 1})
	}
	for _, s := range spans {
		all = append(all, &region{first: s, segs: spanSegs})
	}
	end := func(g *region) int64 { return min(int64(g.first+g.segs)*segmentSize, length) }
	start := func(g *region) int64 { return max(0, int64(g.first)*segmentSize-window) }
	slices.SortFunc(all, func(a, b *region) int { return cmp.Compare(end(a), end(b)) })
	// keep[i] is where the earliest of regions i onwards starts.
	keep := make([]int64, len(all)+1)
	keep[len(all)] = length
	for i := len(all) - 1; i >= 0; i-- {
		keep[i] = min(keep[i+1], start(all[i]))
	}
	var done sync.WaitGroup
	defer done.Wait()
	// buf holds the stream from base on.
	const read = 1 << 20
	buf := make([]byte, 0, window+spanSegs*segmentSize+read)
	var base int64
	for i, g := range all {
		for base+int64(len(buf)) < end(g) {
			if drop := keep[i] - base; drop > 0 {
				drop = min(drop, int64(len(buf)))
				buf = buf[:copy(buf, buf[drop:])]
				base += drop
			}
			if len(buf) == 0 && keep[i] > base {
				// Nothing held: skip to the next region's start.
				if _, err := io.CopyN(io.Discard, r, keep[i]-base); err != nil {
					return fmt.Errorf("reading the layer again: %w", err)
				}
				base = keep[i]
			}
			want := min(int64(cap(buf)-len(buf)), end(all[len(all)-1])-base-int64(len(buf)))
			n, err := io.ReadFull(r, buf[len(buf):len(buf)+int(want)])
			buf = buf[:len(buf)+n]
			if err != nil {
				return fmt.Errorf("reading the layer again: %w", err)
			}
		}
		b := regions.Get().(*[]byte)
		from, to := start(g)-base, end(g)-base
		n := copy(*b, buf[from:to])
		g.dict = int(int64(g.first)*segmentSize - start(g))
		done.Add(1)
		job := func(w *worker) {
			defer done.Done()
			defer regions.Put(b)
			if ctx.Err() != nil {
				return
			}
			dict, data := (*b)[:g.dict], (*b)[g.dict:n]
			if g.segs == 1 {
				g.size, g.err = w.sampled(dict, data, nil)
				return
			}
			if g.size, g.err = w.whole(dict, data); g.err == nil {
				_, g.err = w.sampled(dict, data, g.pieces[:])
			}
		}
		if err := pool.submit(ctx, job); err != nil {
			done.Done()
			regions.Put(b)
			return err
		}
	}
	done.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, g := range all {
		if g.err != nil {
			return g.err
		}
		if g.segs == 1 {
			t := &classes[class[g.first]]
			p := proxies[g.first]
			t.sampleProxy += p
			t.sampleSlow += g.size
			t.samples++
			t.pp += p * p
			t.ss += g.size * g.size
			t.ps += p * g.size
			continue
		}
		var total float64
		for _, p := range g.pieces {
			total += p
		}
		for k, p := range g.pieces {
			t := &classes[class[g.first+k]]
			t.spanPieces += p
			t.spanWhole += p * g.size / total
			t.pieces++
		}
	}
	return nil
}
