package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrMissing marks a blob a layout's descriptor names and the layout
// does not hold.
var ErrMissing = errors.New("blob missing")

// ErrBlob marks a blob whose content is not the digest or the size its
// descriptor gives it.
var ErrBlob = errors.New("blob does not match its descriptor")

// checkBlob checks content against the digest and size a descriptor
// gives it; what names the blob in an error (the manifest, the config).
func checkBlob(what string, content []byte, d v1.Descriptor) error {
	got, err := digestOf(d.Digest.Algorithm)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, d.Digest, err)
	}
	got.Write(content)
	return blobMismatch(what, d, got, int64(len(content)))
}

// blobMismatch compares a blob's digest and length, as read, with its
// descriptor's, and says how they differ.
func blobMismatch(what string, d v1.Descriptor, got hash.Hash, n int64) error {
	sum := d.Digest.Algorithm + ":" + hex.EncodeToString(got.Sum(nil))
	switch {
	case sum != d.Digest.String():
		return fmt.Errorf("%s %s: its content is %s (%d bytes): %w", what, d.Digest, sum, n, ErrBlob)
	case n != d.Size:
		return fmt.Errorf("%s %s: its descriptor says %d bytes, it holds %d: %w", what, d.Digest, d.Size, n, ErrBlob)
	}
	return nil
}

func digestOf(algorithm string) (hash.Hash, error) {
	if algorithm != "sha256" {
		return nil, fmt.Errorf("only sha256 digests are supported, not %s", algorithm)
	}
	return sha256.New(), nil
}

// verifiedImage is an image of an OCI layout whose every blob is checked
// against its descriptor before its content is used, as a registry
// client checks what it downloads: the manifest against the index's
// descriptor, the config against the manifest's, and each layer, as it
// is read, against its own. go-containerregistry's layout package reads
// blobs by name and believes their descriptors.
type verifiedImage struct {
	v1.Image
	desc v1.Descriptor // the manifest's, as the index gives it
	// blobFile names the file of a blob, for its size on disk.
	blobFile func(v1.Hash) string
}

func verify(img v1.Image, desc v1.Descriptor, dir string) v1.Image {
	return &verifiedImage{Image: img, desc: desc, blobFile: layoutBlob(dir)}
}

// layoutBlob names the files of an OCI layout's blobs.
func layoutBlob(dir string) func(v1.Hash) string {
	return func(h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
}

func (v *verifiedImage) RawManifest() ([]byte, error) {
	b, err := v.Image.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := checkBlob("manifest", b, v.desc); err != nil {
		return nil, err
	}
	return b, nil
}

func (v *verifiedImage) Manifest() (*v1.Manifest, error) {
	b, err := v.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}

func (v *verifiedImage) Digest() (v1.Hash, error) {
	if _, err := v.RawManifest(); err != nil {
		return v1.Hash{}, err
	}
	return v.desc.Digest, nil
}

func (v *verifiedImage) RawConfigFile() ([]byte, error) {
	m, err := v.Manifest()
	if err != nil {
		return nil, err
	}
	b, err := v.Image.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if err := checkBlob("config", b, m.Config); err != nil {
		return nil, err
	}
	return b, nil
}

func (v *verifiedImage) ConfigFile() (*v1.ConfigFile, error) {
	b, err := v.RawConfigFile()
	if err != nil {
		return nil, err
	}
	return v1.ParseConfigFile(bytes.NewReader(b))
}

func (v *verifiedImage) ConfigName() (v1.Hash, error) {
	m, err := v.Manifest()
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := v.RawConfigFile(); err != nil {
		return v1.Hash{}, err
	}
	return m.Config.Digest, nil
}

// Layers gives the manifest's layers, each checked as it is read. A
// blob whose size on disk is not its descriptor's is refused at once:
// --manifest-only reads no layer, and counts those sizes.
func (v *verifiedImage) Layers() ([]v1.Layer, error) {
	m, err := v.Manifest()
	if err != nil {
		return nil, err
	}
	layers, err := v.Image.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(m.Layers) {
		return nil, fmt.Errorf("the manifest lists %d layers, %d were found", len(m.Layers), len(layers))
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		d := m.Layers[i]
		if err := checkBlobFile(v.blobFile, d, fmt.Sprintf("layer %d of %d", i+1, len(layers))); err != nil {
			return nil, err
		}
		out[i], err = partial.CompressedToLayer(&verifiedLayer{Layer: l, desc: d})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkBlobFile compares the size of a blob's file, blobFile names it,
// with its descriptor's, without reading it.
func checkBlobFile(blobFile func(v1.Hash) string, d v1.Descriptor, what string) error {
	if d.Digest.Algorithm == "" || d.Digest.Hex == "" {
		return fmt.Errorf("%s: its descriptor has no digest: %w", what, ErrBlob)
	}
	info, err := os.Stat(blobFile(d.Digest))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s: not there: %w", what, d.Digest, ErrMissing)
		}
		return err
	}
	if info.Size() != d.Size {
		return fmt.Errorf("%s %s: its descriptor says %d bytes, the blob holds %d: %w", what, d.Digest, d.Size, info.Size(), ErrBlob)
	}
	return nil
}

// verifiedLayer is a layer whose compressed stream is checked against its
// descriptor when it ends; partial.CompressedToLayer decompresses that
// stream for Uncompressed, so both reads are checked.
type verifiedLayer struct {
	v1.Layer
	desc v1.Descriptor
}

func (l *verifiedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *verifiedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *verifiedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *verifiedLayer) Compressed() (io.ReadCloser, error) {
	sum, err := digestOf(l.desc.Digest.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &checkedReader{rc: rc, sum: sum, desc: l.desc}, nil
}

// checkedReader hashes and counts a blob as it is read, and at its end
// returns the mismatch, if any, in place of io.EOF.
type checkedReader struct {
	rc   io.ReadCloser
	sum  hash.Hash
	n    int64
	desc v1.Descriptor
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	if c.n > c.desc.Size {
		return n, fmt.Errorf("layer %s: its descriptor says %d bytes, the blob holds more: %w", c.desc.Digest, c.desc.Size, ErrBlob)
	}
	if err == io.EOF {
		if merr := blobMismatch("layer", c.desc, c.sum, c.n); merr != nil {
			return n, merr
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
