package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// Opened is an image ready for Analyze, with where it came from.
type Opened struct {
	Image  v1.Image
	Source Source
	// Close removes any temporary copy made to read the image.
	Close func()
}

// Open finds the image an argument names:
//   - "-": a docker save tarball on stdin;
//   - a directory: an OCI image layout;
//   - a file whose name has a slash or ends in .tar: a docker save (or
//     OCI) tarball (write ./name for any other file);
//   - anything else: an image reference in the local Docker engine.
//
// Images that Docker or stdin hand over as one stream are first copied to
// a temporary file, so each layer can be read on its own without holding
// the image in memory.
func Open(ctx context.Context, arg string, stdin io.Reader) (*Opened, error) {
	noop := func() {}
	if arg == "-" {
		path, err := spool(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading the tarball on stdin: %w", err)
		}
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("reading the tarball on stdin: %w", err)
		}
		return &Opened{img, SourceTarball, func() { os.Remove(path) }}, nil
	}
	if info, err := os.Stat(arg); err == nil && looksLikePath(arg, info) {
		if info.IsDir() {
			img, err := fromLayout(arg)
			if err != nil {
				return nil, err
			}
			return &Opened{img, SourceLayout, noop}, nil
		}
		img, err := tarball.ImageFromPath(arg, nil)
		if err != nil {
			return nil, fmt.Errorf("reading tarball %s: %w", arg, err)
		}
		return &Opened{img, SourceTarball, noop}, nil
	}

	ref, err := name.ParseReference(arg)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a file, a directory nor an image reference: %w", arg, err)
	}
	// docker save of a bare repository name exports every tag of it: name
	// the one tag, :latest unless the argument says otherwise.
	exact := arg
	if tag, ok := ref.(name.Tag); ok && !strings.HasSuffix(arg, ":"+tag.TagStr()) {
		exact = arg + ":" + tag.TagStr()
	}
	path, err := dockerSave(ctx, exact)
	if err != nil {
		return nil, fmt.Errorf("reading image %s from the Docker engine: %w", arg, err)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("reading image %s from the Docker engine: %w", arg, err)
	}
	return &Opened{img, SourceDocker, func() { os.Remove(path) }}, nil
}

// dockerSave exports an image from the Docker engine to a temporary file,
// as docker save does. The export carries the image's own config, history
// included, where the engine's inspect and history APIs would only
// approximate it.
func dockerSave(ctx context.Context, ref string) (string, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		return "", err
	}
	rc, err := cli.ImageSave(ctx, []string{ref})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	return spool(rc)
}

// looksLikePath reports whether an existing file is what the argument
// names: a directory, or a name that reads as a path (a slash, or a tar
// extension). A bare word stays an image reference even when a file of
// that name lies in the working directory, as the binary echo_app does
// after make build.
func looksLikePath(arg string, info os.FileInfo) bool {
	if info.IsDir() || strings.Contains(arg, "/") {
		return true
	}
	for _, ext := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(arg, ext) {
			return true
		}
	}
	return false
}

func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "imgcompare-*.tar")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fromLayout picks the image of an OCI layout: its only image, or the one
// for this machine's platform when it holds several.
func fromLayout(dir string) (v1.Image, error) {
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	img, err := singleImage(index)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", dir, err)
	}
	return img, nil
}

// singleImage descends through nested indexes to one image.
func singleImage(index v1.ImageIndex) (v1.Image, error) {
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(manifest.Manifests) == 0 {
		return nil, errors.New("it holds no image")
	}
	pick := manifest.Manifests[0]
	if len(manifest.Manifests) > 1 {
		var found bool
		var platforms []string
		for _, d := range manifest.Manifests {
			if d.Platform == nil {
				continue
			}
			platforms = append(platforms, d.Platform.String())
			if d.Platform.OS == runtime.GOOS && d.Platform.Architecture == runtime.GOARCH {
				pick, found = d, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("it holds %d images and none for %s/%s (platforms: %s)",
				len(manifest.Manifests), runtime.GOOS, runtime.GOARCH, strings.Join(platforms, ", "))
		}
	}
	if pick.MediaType.IsIndex() {
		child, err := index.ImageIndex(pick.Digest)
		if err != nil {
			return nil, err
		}
		return singleImage(child)
	}
	return index.Image(pick.Digest)
}
