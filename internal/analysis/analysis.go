// Package analysis measures one container image: its sizes, uncompressed
// and compressed, its layers and files, how it runs, and what it holds that
// a production image should not (a shell, a package manager, a toolchain,
// setuid files, files anyone may write).
//
// It reads a v1.Image of go-containerregistry and does not care where the
// image came from. Layers are streamed once each: memory grows with the
// number of files in the image, not with its size.
package analysis

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/ctxio"
	"github.com/rastringer/docker_multistage/internal/dockerfile"
)

// Image is what Analyze learns about one image.
type Image struct {
	Name   string // as the user named it
	Source string // where it was read from: a transport of package source
	ID     string // the digest of the config, as docker images shows it

	OS, Architecture, Variant string

	User        string
	Root        bool // the image runs as root (no user, or uid 0)
	Entrypoint  []string
	Cmd         []string
	Env         []string
	Labels      map[string]string
	Ports       []string // exposed, sorted
	Healthcheck []string // nil when the image has none

	// ManifestOnly: only the manifest and config were read, no layer, so
	// the uncompressed size, files, waste and filesystem findings are
	// unknown (Options.ManifestOnly).
	ManifestOnly bool

	// Size is the uncompressed size: the sum of the sizes of the files in
	// all layers, deleted ones included, with a symlink counting as the
	// length of its target. It is what docker image inspect reports as
	// Size (with the overlay2 storage driver, Docker's default).
	Size int64
	// CompressedSize is the size of the layers compressed, as a registry
	// stores them and a pull downloads them: each blob once, however many
	// times the manifest lists it (see Layer.SameBlobAs). Compression says how it was
	// obtained, Formats how the layers are compressed (stored sizes may
	// mix gzip, zstd and uncompressed layers; computed and estimated
	// sizes are gzip).
	CompressedSize int64
	Compression    Compression
	Formats        []string

	Layers   []Layer
	Files    int    // regular files in the final filesystem
	Largest  []File // the largest of them, largest first
	Findings []Finding
	Waste    Waste
	// Hidden accounts for the bytes the layers hold and the final
	// filesystem does not show, by cause.
	Hidden Hidden
	// Reclaimable is what the final filesystem holds that the image need
	// not ship, largest first: visible bytes, neither hidden nor waste.
	Reclaimable []Reclaimable
	// Runs, for an image that ships a toolchain, is what a final stage
	// built from it would need to run its entrypoint; nil otherwise, or
	// when the program is not found.
	Runs *Runs
	// BaseLayers is how many of the bottom layers are a base image's,
	// BaseFrom says how that is known (the image given as --base, or the
	// layers shared with the baseline); 0 and "" when unknown.
	BaseLayers int
	BaseFrom   string
	// BaseName and BaseDigest name the base image where the manifest's
	// annotations do (org.opencontainers.image.base.name and .digest).
	BaseName, BaseDigest string
	// Tree is the final filesystem for a picture of it (Options.Tree).
	Tree *TreeNode
	// Packages attributes every file of the final filesystem to the
	// package that owns it, or to none.
	Packages Packages
	// Advice says what to change, largest first (see Advise): from the
	// history's instructions, again once a Dockerfile names them.
	Advice []Advice
}

// Layer is one layer of an image, bottom first.
type Layer struct {
	DiffID string
	// Digest is the blob's, where the source stores the layer as a
	// blob (a registry, an OCI layout or archive); "" otherwise.
	Digest         string
	Size           int64 // uncompressed, as for Image.Size
	CompressedSize int64
	Files          int // regular files the layer adds or replaces
	CreatedBy      string
	// Instruction is the instruction that made the layer, as its history
	// names it, or the Dockerfile (Dockerfile, Line) once matched.
	Instruction string
	Dockerfile  string
	Line        int
	// Hidden is how many of its bytes later layers hide.
	Hidden int64
	// SameBlobAs, from 1, is the lower layer whose blob this layer is
	// too (the same digest, or for layers stored uncompressed the same
	// diff_id): CompressedSize counts it there. Size, as Docker's,
	// counts it at each place.
	SameBlobAs int

	stream int64 // bytes of its uncompressed stream, tar padding included
}

// FileInfo is what Diff compares of a path of the final filesystem.
type FileInfo struct {
	Path     string
	Type     byte // a tar type flag: regular file, directory, symlink…
	Size     int64
	Mode     int64
	UID, GID int
	Link     string // a symlink's target
	Digest   string // a regular file's content, with Options.FileDigests
}

// File is a regular file of the final filesystem.
type File struct {
	Path string
	Size int64
}

// Options tune Analyze.
type Options struct {
	// Largest is how many of the largest files to keep.
	Largest int
	// Compression is how to obtain compressed sizes.
	Compression Compression
	// Progress, when not nil, is called before each layer is read and
	// every progressEvery bytes of it, from the goroutine of Analyze.
	Progress func(Progress)
	// ManifestOnly reads the manifest and config and no layer: the
	// compressed sizes must be stored.
	ManifestOnly bool
	// Files, when not nil, is called for every path of the final
	// filesystem with what Diff compares (FileDigests to have digests).
	Files func(FileInfo)
	// FileDigests hashes every regular file's content for Files.
	FileDigests bool
	// Packages is how many packages, and unowned directories, to keep.
	Packages int
	// Tree builds Image.Tree, a picture of the final filesystem.
	Tree bool
}

// Progress is how far Analyze has read.
type Progress struct {
	Layer, Layers int   // the layer being read, from 1
	Read          int64 // bytes of uncompressed layers read so far
	// Compressing: every layer is read, the compressed sizes are not
	// known yet.
	Compressing bool
}

// progressEvery is how often, in bytes, Progress is called within a layer.
const progressEvery = 4 << 20

// Analyze reads img, one layer at a time, and returns what it found.
func Analyze(ctx context.Context, img v1.Image, opts Options) (*Image, error) {
	config, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading config digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	out := &Image{
		ID:           id.String(),
		OS:           config.OS,
		Architecture: config.Architecture,
		Variant:      config.Variant,
		Compression:  opts.Compression,
	}
	describeConfig(out, config.Config)

	if len(config.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("config names %d layers (diff_ids), the image has %d", len(config.RootFS.DiffIDs), len(layers))
	}
	createdBy := layerHistory(config.History, len(layers))
	if opts.ManifestOnly {
		if opts.Compression != Stored {
			return nil, errors.New("reading the manifest alone needs compressed sizes the source stores (a registry, an OCI layout or archive)")
		}
		return manifestOnly(out, layers, config.RootFS.DiffIDs, createdBy)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var compressed func() ([]int64, bool, error)
	feed, done := func(int) io.Writer { return nil }, func(int) {}
	if opts.Compression != Stored {
		feed, done, compressed = compressAll(ctx, layers, config.RootFS.DiffIDs, opts.Compression == Estimated)
	}
	fs := newFSTree()
	fs.keep = map[string]bool{}
	fs.kept = map[*inode][]byte{}
	fs.keptAt = map[string]*inode{}
	fs.pkgFiles = map[*inode]pkgContent{}
	candidates := programCandidates(config.Config)
	for _, c := range candidates {
		fs.keep[c] = true
	}
	hidden := newHiddenCounter()
	fs.counter = hidden
	waste := newWasteCounter()
	var read int64
	for i, layer := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var report func(int64)
		if opts.Progress != nil {
			p := Progress{Layer: i + 1, Layers: len(layers), Read: read}
			opts.Progress(p)
			report = func(n int64) { opts.Progress(Progress{Layer: p.Layer, Layers: p.Layers, Read: p.Read + n}) }
		}
		l, err := readLayer(ctx, layer, config.RootFS.DiffIDs[i], i, fs, waste, opts, report, feed(i))
		if err != nil {
			return nil, layerError(config.RootFS.DiffIDs, i, err)
		}
		done(i)
		l.CreatedBy = createdBy[i]
		l.Instruction = instructionOf(createdBy[i])
		out.Layers = append(out.Layers, l)
		read += l.stream
	}
	if opts.Compression == Stored {
		if err := storedFormats(out, layers); err != nil {
			return nil, err
		}
	} else {
		out.Formats = []string{"gzip"}
	}
	if compressed != nil {
		if opts.Progress != nil {
			opts.Progress(Progress{Layer: len(layers), Layers: len(layers), Read: read, Compressing: true})
		}
		sizes, estimated, err := compressed()
		if err != nil {
			return nil, err
		}
		if !estimated {
			// Every layer was small enough to compress whole.
			out.Compression = Computed
		}
		for i := range out.Layers {
			out.Layers[i].CompressedSize = sizes[i]
		}
	}
	for _, l := range out.Layers {
		out.Size += l.Size
	}
	if err := countBlobs(out, layers, opts.Compression == Stored); err != nil {
		return nil, err
	}

	var files []File
	fs.walk(func(p string, n *node) {
		if n.typeflag == tar.TypeReg {
			files = append(files, File{Path: p, Size: n.size})
		}
	})
	out.Files = len(files)
	sort.Slice(files, func(i, j int) bool {
		if files[i].Size != files[j].Size {
			return files[i].Size > files[j].Size
		}
		return files[i].Path < files[j].Path
	})
	if len(files) > opts.Largest {
		files = files[:opts.Largest]
	}
	out.Largest = files
	out.Findings = findings(fs, out)
	if opts.Files != nil {
		fs.walk(func(p string, n *node) {
			opts.Files(FileInfo{Path: p, Type: n.typeflag, Size: n.size, Mode: n.mode, UID: n.uid, GID: n.gid, Link: n.linkname, Digest: n.digest})
		})
	}
	out.Waste = waste.result(opts.Largest)
	byLayer := make([]int64, len(out.Layers))
	out.Hidden = hidden.result(fs, opts.Largest, byLayer)
	out.Reclaimable = reclaimable(fs)
	for _, r := range out.Reclaimable {
		if r.Kind == GoToolchain || r.Kind == CToolchain {
			out.Runs = whatRuns(fs, candidates)
			break
		}
	}
	out.Advice = Advise(out)
	if opts.Tree {
		fs.owners = map[string]int{}
	}
	out.Packages = packagesOf(fs)
	out.Packages.keep(opts.Packages)
	if opts.Tree {
		out.Tree = buildTree(fs)
	}
	for i := range out.Layers {
		out.Layers[i].Hidden = byLayer[i]
	}
	return out, nil
}

// manifestOnly fills in what the manifest and config tell.
func manifestOnly(out *Image, layers []v1.Layer, diffIDs []v1.Hash, createdBy []string) (*Image, error) {
	out.ManifestOnly = true
	for i, layer := range layers {
		n, err := layer.Size()
		if err != nil {
			return nil, layerError(diffIDs, i, err)
		}
		out.Layers = append(out.Layers, Layer{DiffID: diffIDs[i].String(), CompressedSize: n, CreatedBy: createdBy[i], Instruction: instructionOf(createdBy[i])})
	}
	if err := countBlobs(out, layers, true); err != nil {
		return nil, err
	}
	if err := storedFormats(out, layers); err != nil {
		return nil, err
	}
	out.Findings = findings(newFSTree(), out)
	return out, nil
}

// instructionOf reads the instruction a layer's history names.
func instructionOf(createdBy string) string {
	keyword, rest := dockerfile.Instruction(createdBy)
	return strings.TrimSpace(keyword + " " + rest)
}

// countBlobs sums the layers' compressed sizes into the image's, each
// blob once: a registry stores a blob the manifest lists twice once, and a
// pull downloads it once. Stored blobs are told by their digests, layers
// compressed here by their diff_ids.
func countBlobs(out *Image, layers []v1.Layer, stored bool) error {
	first := map[string]int{}
	for i := range out.Layers {
		key := out.Layers[i].DiffID
		if stored {
			h, err := layers[i].Digest()
			if err != nil {
				return fmt.Errorf("layer %d of %d: its digest: %w", i+1, len(layers), err)
			}
			key = h.String()
			out.Layers[i].Digest = key
		}
		if j, ok := first[key]; ok {
			out.Layers[i].SameBlobAs = j + 1
			continue
		}
		first[key] = i
		out.CompressedSize += out.Layers[i].CompressedSize
	}
	return nil
}

func storedFormats(out *Image, layers []v1.Layer) error {
	for _, layer := range layers {
		mt, err := layer.MediaType()
		if err != nil {
			return fmt.Errorf("reading a layer's media type: %w", err)
		}
		if f := format(mt); !slices.Contains(out.Formats, f) {
			out.Formats = append(out.Formats, f)
		}
	}
	return nil
}

func describeConfig(out *Image, c v1.Config) {
	out.User = c.User
	out.Env = c.Env
	out.Labels = c.Labels
	out.Root = runsAsRoot(c.User)
	out.Entrypoint = c.Entrypoint
	out.Cmd = c.Cmd
	for port := range c.ExposedPorts {
		out.Ports = append(out.Ports, port)
	}
	sort.Strings(out.Ports)
	if hc := c.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		out.Healthcheck = hc.Test
	}
}

// runsAsRoot reports whether a config's User field means uid 0: no user at
// all, "root", or a numeric 0.
func runsAsRoot(user string) bool {
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "root" {
		return true
	}
	n, err := strconv.Atoi(uid)
	return err == nil && n == 0
}

// layerHistory returns the created_by of each layer: history entries that
// made no layer are skipped. When the history does not account for every
// layer it returns empty strings rather than guess.
func layerHistory(history []v1.History, layers int) []string {
	createdBy := make([]string, layers)
	var made []string
	for _, h := range history {
		if !h.EmptyLayer {
			made = append(made, h.CreatedBy)
		}
	}
	if len(made) == layers {
		copy(createdBy, made)
	}
	return createdBy
}

// readLayer streams one layer: it sums its file sizes, applies its entries
// and whiteouts to fs, and checks that the stream is the one the config
// names (its diff_id), as Docker does before it uses a layer.
// report, when not nil, is called with the bytes of the stream read so
// far, every progressEvery; tee, when not nil, is written the stream.
func readLayer(ctx context.Context, layer v1.Layer, diffID v1.Hash, index int, fs *fsTree, waste *wasteCounter, opts Options, report func(int64), tee io.Writer) (Layer, error) {
	l := Layer{DiffID: diffID.String()}

	rc, err := layer.Uncompressed()
	if err != nil {
		return l, err
	}
	defer rc.Close()

	if opts.Compression == Stored {
		if l.CompressedSize, err = layer.Size(); err != nil {
			return l, err
		}
	}

	type writtenEntry struct {
		size  int64
		files int
	}
	written := map[string]writtenEntry{}
	var head [4]byte
	buf := make([]byte, 64<<10) // for each file's content, read whole
	var same maphash.Hash
	same.SetSeed(contentSeed)
	digest := sha256.New()
	// The tar reader skips file content in reads of 8 KiB; buffered,
	// a 582 MB layer takes 600 reads of the file rather than 70,000.
	counted := &countingReader{r: ctxio.Reader(ctx, bufio.NewReaderSize(rc, 1<<20)), report: report}
	var sink io.Writer = digest
	if tee != nil {
		sink = io.MultiWriter(digest, tee)
	}
	stream := io.TeeReader(counted, sink)
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return l, err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		parts, err := entryPath(h.Name)
		if err != nil {
			return l, err
		}
		// Docker writes a name listed twice once, the last entry winning.
		key := strings.Join(parts, "/")
		if prev, ok := written[key]; ok {
			l.Size -= prev.size
			l.Files -= prev.files
			if fs.counter != nil {
				fs.counter.forget("/"+key, index)
			}
		}
		var e writtenEntry
		e.size = h.Size
		if h.Typeflag == tar.TypeSymlink {
			// Docker's overlay2 driver counts a symlink as the length of
			// its target, as lstat does: counted the same way, Size
			// equals docker image inspect's.
			e.size += int64(len(h.Linkname))
		}
		if (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeLink) && !strings.HasPrefix(path.Base(h.Name), whiteoutPrefix) {
			e.files = 1
		}
		written[key] = e
		l.Size += e.size
		l.Files += e.files
		waste.entry(h)
		in, err := fs.applyEntry(h, parts, index)
		if err != nil {
			return l, err
		}
		if h.Typeflag != tar.TypeReg || in == nil {
			continue
		}
		// The findings ask whether an executable is a program. Every
		// file is asked, since a hard link's header may make one
		// executable later.
		n, err := io.ReadFull(tr, head[:])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return l, err
		}
		in.runs = runs(head[:n])
		// Every file's content is hashed, to tell a file a later layer
		// rewrites unchanged; the stream is read whole either way.
		same.Reset()
		var sink io.Writer = &same
		var sum hash.Hash
		if opts.FileDigests {
			sum = sha256.New()
			sink = io.MultiWriter(&same, sum)
		}
		// The packages pass and the entrypoint's program need a few
		// files whole: those are read into one buffer, and hashed from it.
		pkgKind := pkgFileOf("/"+key, head[:n], h.Mode, h.Size)
		keep := fs.keep["/"+key] && h.Size <= maxKept
		if pkgKind == noPkgFile && !keep {
			sink.Write(head[:n])
			if _, err := io.CopyBuffer(sink, onlyReader{tr}, buf); err != nil {
				return l, err
			}
		} else {
			if int64(cap(fs.pkgBuf)) < h.Size {
				fs.pkgBuf = make([]byte, h.Size)
			}
			content := fs.pkgBuf[:h.Size]
			copy(content, head[:n])
			if _, err := io.ReadFull(tr, content[n:]); err != nil {
				return l, err
			}
			sink.Write(content)
			if pkgKind != noPkgFile {
				fs.keepPkgFile(in, "/"+key, pkgKind, content)
			}
			if keep {
				// Only the last content written at a path can be the
				// one that runs.
				delete(fs.kept, fs.keptAt[key])
				fs.kept[in], fs.keptAt[key] = bytes.Clone(content), in
			}
			if cap(fs.pkgBuf) > maxPkgText {
				fs.pkgBuf = nil // a large binary's buffer is not kept
			}
		}
		in.sum = same.Sum64()
		if sum != nil {
			in.digest = "sha256:" + hex.EncodeToString(sum.Sum(nil))
		}
		fs.rewritten(in, index)
	}
	waste.endLayer()
	// The end-of-archive blocks and any padding after them are part of
	// the stream the diff_id names.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return l, err
	}
	if diffID.Algorithm != "sha256" {
		return l, fmt.Errorf("diff_id %s: only sha256 is supported", diffID)
	}
	if got := "sha256:" + hex.EncodeToString(digest.Sum(nil)); got != l.DiffID {
		return l, fmt.Errorf("content is %s, not the diff_id the config names: %w", got, ErrDiffID)
	}
	l.stream = counted.n
	return l, nil
}

// onlyReader hides all but Read, so that io.CopyBuffer uses its buffer.
type onlyReader struct{ io.Reader }

// countingReader counts what is read through it, and reports the count
// every progressEvery bytes.
type countingReader struct {
	r      io.Reader
	n      int64
	next   int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.report != nil && c.n >= c.next {
		c.report(c.n)
		c.next = c.n + progressEvery
	}
	return n, err
}

// ErrDiffID marks a layer whose content does not match its diff_id.
var ErrDiffID = errors.New("layer does not match its diff_id")

// layerError names layer i by its place and the diff_id the config gives it.
func layerError(diffIDs []v1.Hash, i int, err error) error {
	return fmt.Errorf("layer %d of %d (%s): %w", i+1, len(diffIDs), diffIDs[i], err)
}

// Download is what a host that holds image a downloads to pull image b:
// the compressed sizes of b's blobs, each once, that a lacks. Blobs are
// told by their digests where both sources store them, otherwise by the
// layers' diff_ids.
func Download(a, b *Image) int64 {
	noDigest := func(l Layer) bool { return l.Digest == "" }
	byDigest := !slices.ContainsFunc(a.Layers, noDigest) && !slices.ContainsFunc(b.Layers, noDigest)
	key := func(l Layer) string {
		if byDigest {
			return l.Digest
		}
		return l.DiffID
	}
	have := map[string]bool{}
	for _, l := range a.Layers {
		have[key(l)] = true
	}
	var n int64
	for _, l := range b.Layers {
		if !have[key(l)] {
			have[key(l)] = true
			n += l.CompressedSize
		}
	}
	return n
}

// SharedWithBaseline is Image.BaseFrom for base layers known as those an
// image shares with the baseline.
const SharedWithBaseline = "shared with the baseline"

// SharedLayers is how many bottom layers image a has in common with the
// layers whose diff_ids are given, in order.
func SharedLayers(a *Image, diffIDs []string) int {
	n := 0
	for n < len(a.Layers) && n < len(diffIDs) && a.Layers[n].DiffID == diffIDs[n] {
		n++
	}
	return n
}

// LayerBytes is the uncompressed size of layers from (from 1) to to.
func LayerBytes(img *Image, from, to int) int64 {
	var n int64
	for i := from - 1; i < to && i < len(img.Layers); i++ {
		n += img.Layers[i].Size
	}
	return n
}
