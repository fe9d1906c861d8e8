package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/rastringer/docker_multistage/internal/ctxio"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// archiveKind tells a docker save tarball (manifest.json) from an OCI
// archive (index.json and oci-layout) by the names it holds.
func archiveKind(open tarball.Opener) (string, error) {
	f, err := open()
	if err != nil {
		return "", err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a tar archive: %w", err)
		}
		names[path.Clean(h.Name)] = true
	}
	switch {
	case names["manifest.json"]:
		return Archive, nil
	case names["index.json"] && names["oci-layout"]:
		return OCIArchive, nil
	}
	return "", errors.New("neither a docker save tarball (no manifest.json) nor an OCI archive (no index.json and oci-layout)")
}

// openArchive reads a docker save tarball. The layers are stored
// compressed when the tarball holds them so (kaniko and crane write gzipped
// layers; docker save does not).
func openArchive(open tarball.Opener, ref string) (*Image, error) {
	img, stored, err := openArchiveImage(open, ref)
	if err != nil {
		return nil, err
	}
	return &Image{Image: img, Transport: Archive, StoredSizes: stored, Close: noop}, nil
}

func openArchiveImage(opener tarball.Opener, ref string) (_ v1.Image, stored bool, _ error) {
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, false, fmt.Errorf("not an image archive: its manifest.json is not JSON (%v), where docker save writes the list of its images (Config, RepoTags, Layers)", syntax)
		case errors.As(err, &typ):
			return nil, false, fmt.Errorf("not an image archive: its manifest.json holds a JSON %s where docker save writes the list of its images (Config, RepoTags, Layers); a web app's build has a manifest.json of its own", typ.Value)
		}
		return nil, false, err
	}
	for _, d := range manifest {
		if d.Config == "" {
			return nil, false, errors.New("not an image archive: its manifest.json lists an entry with no Config, which every image docker save writes has")
		}
	}
	i, err := pickArchiveEntry(manifest, ref)
	if err != nil {
		return nil, false, err
	}
	if len(manifest) > 1 {
		opener = onlyEntry(opener, manifest[i])
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		return nil, false, err
	}
	formats, err := layerFormats(opener, manifest[i].Layers)
	if err != nil {
		return nil, false, err
	}
	// go-containerregistry reads every layer as compressed when the
	// first is, and names them all gzip: each is named by its content.
	if stored = len(formats) > 0 && formats[0] != types.DockerUncompressedLayer; stored {
		img = typedImage{img, formats}
	}
	if err := checkNamedBlobs(img, manifest[i], stored); err != nil {
		return nil, false, err
	}
	return img, stored, nil
}

// blobName matches a file named by its digest, as Docker 25 and later
// name the config and layers of a save (blobs/sha256/HEX, an OCI layout).
var blobName = regexp.MustCompile(`^blobs/(sha256)/([a-f0-9]{64})$`)

// checkNamedBlobs checks that the files of a save named by a digest hold
// that digest: the config, which go-containerregistry hashes, and each
// layer, by the digest it computes of a compressed layer, or by its
// diff_id, which the analysis checks the content against, for an
// uncompressed one. Older saves name their files otherwise, and are
// checked by their diff_ids alone.
func checkNamedBlobs(img v1.Image, d tarball.Descriptor, compressed bool) error {
	named := func(file string) (v1.Hash, bool) {
		m := blobName.FindStringSubmatch(path.Clean(file))
		if m == nil {
			return v1.Hash{}, false
		}
		return v1.Hash{Algorithm: m[1], Hex: m[2]}, true
	}
	if want, ok := named(d.Config); ok {
		got, err := img.ConfigName()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("config %s: its content is %s: %w", d.Config, got, ErrBlob)
		}
	}
	var layers []v1.Layer
	for i, file := range d.Layers {
		want, ok := named(file)
		if !ok {
			continue
		}
		if layers == nil {
			var err error
			if layers, err = img.Layers(); err != nil {
				return err
			}
			if len(layers) != len(d.Layers) {
				return fmt.Errorf("manifest.json lists %d layers, the config %d", len(d.Layers), len(layers))
			}
		}
		got, err := layers[i].DiffID()
		if compressed {
			got, err = layers[i].Digest()
		}
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("layer %d of %d, %s: its content is %s: %w", i+1, len(d.Layers), file, got, ErrBlob)
		}
	}
	return nil
}

// pickArchiveEntry picks the image ref names: its only one, a tag, a
// config digest, or @N.
func pickArchiveEntry(m tarball.Manifest, ref string) (int, error) {
	if len(m) == 0 {
		return 0, errors.New("it holds no image")
	}
	if ref == "" {
		if len(m) == 1 {
			return 0, nil
		}
		return 0, fmt.Errorf("it holds %d images; name one as PATH:REF: %s", len(m), listArchive(m))
	}
	if n, ok := position(ref, len(m)); ok {
		return n, nil
	}
	var found []int
	for i, d := range m {
		if strings.HasPrefix(ref, "sha256:") && strings.Contains(d.Config, strings.TrimPrefix(ref, "sha256:")) {
			found = append(found, i)
			continue
		}
		want, err := name.NewTag(ref)
		if err != nil {
			continue
		}
		for _, t := range d.RepoTags {
			if got, err := name.NewTag(t); err == nil && got.Name() == want.Name() {
				found = append(found, i)
				break
			}
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%d images match %q; it holds: %s", len(found), ref, listArchive(m))
	}
	return found[0], nil
}

// position reads @N.
func position(ref string, count int) (int, bool) {
	s, ok := strings.CutPrefix(ref, "@")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= count {
		return 0, false
	}
	return n, true
}

func listArchive(m tarball.Manifest) string {
	var parts []string
	for i, d := range m {
		tags := strings.Join(d.RepoTags, ", ")
		if tags == "" {
			tags = "untagged, config " + shortConfig(d.Config)
		}
		parts = append(parts, fmt.Sprintf("@%d %s", i, tags))
	}
	return strings.Join(parts, "; ")
}

func shortConfig(config string) string {
	hex := strings.TrimSuffix(path.Base(config), ".json")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return "sha256:" + hex
}

// onlyEntry presents the tarball with a manifest.json that lists only d,
// so go-containerregistry reads that image whether or not it is tagged.
func onlyEntry(opener tarball.Opener, d tarball.Descriptor) tarball.Opener {
	return func() (io.ReadCloser, error) {
		src, err := opener()
		if err != nil {
			return nil, err
		}
		manifest, err := json.Marshal(tarball.Manifest{d})
		if err != nil {
			src.Close()
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer src.Close()
			pw.CloseWithError(rewriteManifest(src, pw, manifest))
		}()
		return pr, nil
	}
}

func rewriteManifest(src io.Reader, dst io.Writer, manifest []byte) error {
	tr := tar.NewReader(src)
	tw := tar.NewWriter(dst)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		var body io.Reader = tr
		if path.Clean(h.Name) == "manifest.json" {
			h.Size, body = int64(len(manifest)), bytes.NewReader(manifest)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, body); err != nil {
			return err
		}
	}
}

// layerFormats names how each layer file of the tarball is compressed,
// by its first bytes, in one pass: gzip, zstd or none.
func layerFormats(open tarball.Opener, layers []string) ([]types.MediaType, error) {
	f, err := open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := map[string][]int{}
	for i, l := range layers {
		want[path.Clean(l)] = append(want[path.Clean(l)], i)
	}
	out := make([]types.MediaType, len(layers))
	found := 0
	tr := tar.NewReader(f)
	for found < len(want) {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		at, ok := want[path.Clean(h.Name)]
		if !ok {
			continue
		}
		found++
		head, err := bufio.NewReader(tr).Peek(4)
		if err != nil && err != io.EOF {
			return nil, err
		}
		mt := types.DockerUncompressedLayer
		switch {
		case bytes.HasPrefix(head, gzipMagic):
			mt = types.DockerLayer
		case bytes.HasPrefix(head, zstdMagic):
			mt = types.OCILayerZStd
		}
		for _, i := range at {
			out[i] = mt
		}
	}
	for l, at := range want {
		if out[at[0]] == "" {
			return nil, fmt.Errorf("layer %s is not in the tarball", l)
		}
	}
	return out, nil
}

// typedImage gives each layer of an image the media type of its content.
type typedImage struct {
	v1.Image
	formats []types.MediaType
}

func (t typedImage) Layers() ([]v1.Layer, error) {
	layers, err := t.Image.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(t.formats) {
		return nil, fmt.Errorf("manifest.json lists %d layers, the config %d", len(t.formats), len(layers))
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		out[i] = typedLayer{l, t.formats[i]}
	}
	return out, nil
}

type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (t typedLayer) MediaType() (types.MediaType, error) { return t.mt, nil }

func startsWith(file string, magic []byte) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(magic))
	n, _ := io.ReadFull(f, head)
	return bytes.Equal(head[:n], magic), nil
}

// fileOpener opens file, decompressing it on the way when it is gzipped
// (docker save | gzip): a compressed archive is read again from its
// start each time, never decompressed to disk.
func fileOpener(ctx context.Context, file string) (tarball.Opener, error) {
	compressed, err := startsWith(file, gzipMagic)
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		if !compressed {
			// A plain file stays seekable, for tar to skip entries.
			return f, nil
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("decompressing %s: %w", file, err)
		}
		return readCloser{ctxio.Reader(ctx, zr), f}, nil
	}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
