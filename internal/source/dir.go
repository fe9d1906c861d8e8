package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Dir is the transport of skopeo's directory of an image.
const Dir = "dir"

// dirVersion starts the version file of skopeo's directory layout.
const dirVersion = "Directory Transport Version: "

// isSkopeoDir reports whether a directory is skopeo's layout of an image
// (skopeo copy … dir:PATH): a version file and a manifest.json.
func isSkopeoDir(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "version"))
	if err != nil || !strings.HasPrefix(string(b), dirVersion) {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "manifest.json"))
	return err == nil
}

// openDir reads skopeo's directory of one image, as containers/image
// writes it: manifest.json, and each blob in a file named by its digest's
// hex (the config and the layers, stored as the source held them). Every
// blob is checked against its descriptor, as in an OCI layout.
func openDir(dir string) (*Image, error) {
	if !isSkopeoDir(dir) {
		return nil, fmt.Errorf("%s is not skopeo's dir: layout (a version file saying %q and a manifest.json)", dir, dirVersion+"1.1")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var kind struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     types.MediaType `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &kind); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	switch {
	case kind.SchemaVersion != 2:
		return nil, fmt.Errorf("manifest.json is of schema version %d; only 2 (Docker's v2 schema 2 and OCI) is read", kind.SchemaVersion)
	case kind.MediaType.IsIndex() || kind.Manifests != nil:
		return nil, errors.New("it holds a multi-platform index (skopeo copy --all): copy one platform into it, or copy --all to an oci: layout, which imgcompare reads platform by platform")
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	img, err := partial.CompressedToImage(&dirImage{dir: dir, raw: raw, manifest: m, mediaType: mt})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	checked := &verifiedImage{Image: img, desc: desc, blobFile: func(h v1.Hash) string { return filepath.Join(dir, h.Hex) }}
	if err := refuseAttestation(checked, "its manifest.json"); err != nil {
		return nil, err
	}
	return &Image{Image: checked, Transport: Dir, StoredSizes: true, Close: noop}, nil
}

// dirImage is the image of skopeo's directory, for partial.CompressedToImage.
type dirImage struct {
	dir       string
	raw       []byte
	manifest  *v1.Manifest
	mediaType types.MediaType
}

func (d *dirImage) RawManifest() ([]byte, error)        { return d.raw, nil }
func (d *dirImage) MediaType() (types.MediaType, error) { return d.mediaType, nil }

func (d *dirImage) RawConfigFile() ([]byte, error) {
	return os.ReadFile(filepath.Join(d.dir, d.manifest.Config.Digest.Hex))
}

func (d *dirImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range d.manifest.Layers {
		if l.Digest == h {
			return &dirBlob{file: filepath.Join(d.dir, h.Hex), desc: l}, nil
		}
	}
	return nil, fmt.Errorf("the manifest lists no layer %s", h)
}

// dirBlob is a layer of skopeo's directory.
type dirBlob struct {
	file string
	desc v1.Descriptor
}

func (b *dirBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *dirBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *dirBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *dirBlob) Compressed() (io.ReadCloser, error)  { return os.Open(b.file) }
