package source

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rastringer/docker_multistage/internal/ctxio"
)

// layoutFile matches the names an OCI layout is made of; an archive's
// other entries (docker save's manifest.json, say) are not needed.
var layoutFile = regexp.MustCompile(`^(oci-layout|index\.json|blobs/[a-z0-9]+/[a-f0-9]{32,128})$`)

// openOCIArchive reads a tar of an OCI image layout, as docker buildx
// build --output type=oci, skopeo copy oci-archive: and podman save
// --format oci-archive write it, through a copy of the layout in a
// temporary directory (under opts.TempDir).
func openOCIArchive(ctx context.Context, open tarball.Opener, ref string, opts Options) ([]*Image, error) {
	parent, err := tempDir(opts)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "imgcompare-oci-*")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := extractLayout(ctx, open, dir); err != nil {
		cleanup()
		return nil, err
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	imgs, err := fromIndex(index, ref, opts, OCIArchive, dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	return afterLast(imgs, cleanup), nil
}

func extractLayout(ctx context.Context, open tarball.Opener, dir string) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(ctxio.Reader(ctx, f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || !layoutFile.MatchString(name) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
	}
}
