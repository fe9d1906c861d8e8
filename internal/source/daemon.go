package source

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
)

// openDaemon reads an image from the local Docker engine through docker
// save, into a temporary file: the export carries the image's own config,
// history included, where the engine's inspect and history APIs would only
// approximate it, and each layer can then be read on its own without
// holding the image in memory. The engine keeps layers uncompressed.
func openDaemon(ctx context.Context, ref string, opts Options) (*Image, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a file, a directory nor an image reference: %w", ref, err)
	}
	// docker save of a bare repository name exports every tag of it: name
	// the one tag, :latest unless the argument says otherwise.
	exact := ref
	if tag, ok := parsed.(name.Tag); ok && !strings.HasSuffix(ref, ":"+tag.TagStr()) {
		exact = ref + ":" + tag.TagStr()
	}
	path, err := dockerSave(ctx, exact, opts)
	if err != nil {
		return nil, fmt.Errorf("reading image %s from the Docker engine: %w", ref, err)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("reading image %s from the Docker engine: %w", ref, err)
	}
	return &Image{Image: img, Transport: Daemon, Close: func() { os.Remove(path) }}, nil
}

func dockerSave(ctx context.Context, ref string, opts Options) (string, error) {
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
	return spool(ctx, rc, opts)
}
