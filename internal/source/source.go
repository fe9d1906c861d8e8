// Package source opens the images imgcompare reads, wherever they are: the
// local Docker engine, docker save tarballs, OCI archives and OCI image
// layouts. Each source gives a v1.Image of go-containerregistry and says
// where its compressed sizes come from; the analysis takes it from there.
//
// Arguments name a source the way containers/image (skopeo, podman) does,
// with a transport prefix, or bare:
//
//	docker://HOST/REPO:TAG     an image in a registry
//	docker-daemon:REF          an image in the local Docker engine
//	docker-archive:PATH[:REF]  a docker save tarball
//	oci-archive:PATH[:REF]     a tar of an OCI image layout
//	oci:PATH[:REF]             an OCI image layout directory
//	dir:PATH                   skopeo's directory of one image
//
// REF picks one image from an archive or layout that holds several: a tag
// (echo_app:latest), a digest (sha256:…) or a position (@0, @1, …).
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/ctxio"
)

// Image is an opened image.
type Image struct {
	v1.Image
	// Transport names the kind of source, as containers/image names it.
	Transport string
	// StoredSizes reports whether the source holds the layers compressed,
	// so that their stored sizes are what a registry would hold; when
	// false, the compressed size has to be computed.
	StoredSizes bool
	// Close removes any temporary copy made to read the image.
	Close func()
	// Platform names the platform picked from a multi-platform index by
	// OpenAll; empty otherwise.
	Platform string
}

// The transports.
const (
	Daemon     = "docker-daemon"
	Archive    = "docker-archive"
	OCIArchive = "oci-archive"
	OCILayout  = "oci"
)

// Options tune Open.
type Options struct {
	// Platform picks an image from a multi-platform index. When nil, the
	// host's platform is tried, then linux/amd64.
	Platform *v1.Platform
	// Stdin is read for the argument "-".
	Stdin io.Reader
	// Insecure allows plain HTTP to a registry that is not on this
	// machine.
	Insecure bool
	// TempDir gives the directory for the temporary copies some sources
	// need (stdin, the engine's export, an OCI archive's layout), called
	// only when one is needed; nil is the system's. The caller that owns
	// the directory removes it: each Image's Close frees its copy sooner,
	// but an interrupted program may never call it.
	TempDir func() (string, error)

	// Warn, when not nil, is told what the reading works around: a
	// platform an index lists and the source does not hold, a download
	// resumed. It writes to stderr; stdout stays the report's.
	Warn func(string)

	every bool // OpenAll: every platform
}

// ErrNotFound marks an argument that names a file that does not exist.
var ErrNotFound = errors.New("no such file or directory")

// Open opens the image an argument names. A bare argument is resolved so:
//   - "-": a docker save tarball or an OCI archive on stdin;
//   - an existing directory: an OCI image layout, or skopeo's directory
//     of an image (a version file and a manifest.json); an existing file named
//     with a slash or a .tar, .tar.gz or .tgz ending: a docker save
//     tarball or an OCI archive, told apart by what it holds;
//   - PATH:REF where PATH is such a file or directory: one image of it;
//   - a name that reads as a path (it starts with /, ./ or ../, ends in
//     .tar, .tar.gz or .tgz, or has a slash and is no image reference)
//     but does not exist: an error, "no such file";
//   - anything else: an image in the local Docker engine. A bare word
//     stays an image reference even when a file of that name lies in the
//     working directory, as the binary echo_app does after make build.
//
// A bare argument never reaches the network.
//
// A platform asked for must be the image's, single-platform images too.
func Open(ctx context.Context, arg string, opts Options) (*Image, error) {
	imgs, err := open(ctx, arg, opts)
	if err != nil {
		return nil, err
	}
	img := imgs[0]
	if opts.Platform != nil {
		cf, err := img.ConfigFile()
		if err != nil {
			img.close()
			return nil, fmt.Errorf("%s: reading the config: %w", arg, err)
		}
		if have := cf.Platform(); have == nil || !have.Satisfies(*opts.Platform) {
			img.close()
			return nil, fmt.Errorf("%s is a %s image, not %s (--platform picks from a multi-platform image)", arg, platformName(have), opts.Platform)
		}
	}
	return img, nil
}

// close removes what was made to read img, if anything.
func (img *Image) close() {
	if img.Close != nil {
		img.Close()
	}
}

func platformName(p *v1.Platform) string {
	if p == nil || p.OS == "" {
		return "platform-less"
	}
	return p.String()
}

// OpenAll opens every platform of the image an argument names, as Open
// resolves it: one image for a single-platform image, one per platform
// (attestations left out) for a multi-platform index.
func OpenAll(ctx context.Context, arg string, opts Options) ([]*Image, error) {
	opts.every, opts.Platform = true, nil
	return open(ctx, arg, opts)
}

func one(img *Image, err error) ([]*Image, error) {
	if err != nil {
		return nil, err
	}
	return []*Image{img}, nil
}

func open(ctx context.Context, arg string, opts Options) ([]*Image, error) {
	transport, rest, ok := strings.Cut(arg, ":")
	if ok {
		switch transport {
		case Registry:
			ref, ok := strings.CutPrefix(rest, "//")
			if !ok {
				return nil, fmt.Errorf("%q: a registry image is docker://HOST/REPO:TAG", arg)
			}
			return openRemote(ctx, ref, opts)
		case Daemon:
			return one(openDaemon(ctx, rest, opts))
		case Dir:
			if _, err := os.Stat(rest); err != nil {
				return nil, fmt.Errorf("%s: %w", rest, ErrNotFound)
			}
			img, err := openDir(rest)
			if err != nil {
				return nil, fmt.Errorf("reading skopeo's directory %s: %w", rest, err)
			}
			return one(img, nil)
		case Archive, OCIArchive, OCILayout:
			path, ref, _ := splitRef(rest)
			return openPath(ctx, transport, path, ref, opts)
		}
	}
	if arg == "-" {
		if opts.Stdin == nil {
			return nil, errors.New("no stdin to read")
		}
		path, err := spool(ctx, opts.Stdin, opts)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		imgs, err := openFile(ctx, "", path, "", opts)
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		return afterLast(imgs, func() { os.Remove(path) }), nil
	}
	if info, err := os.Stat(arg); err == nil && namesPath(arg, info) {
		return openPath(ctx, "", arg, "", opts)
	}
	if path, ref, ok := splitRef(arg); ok && ref != "" {
		if info, err := os.Stat(path); err == nil && namesPath(path, info) {
			return openPath(ctx, "", path, ref, opts)
		}
	}
	if readsAsPath(arg) {
		return nil, fmt.Errorf("%s: %w", arg, ErrNotFound)
	}
	img, err := openDaemon(ctx, arg, opts)
	if err != nil && strings.Contains(arg, "/") {
		// A name with a slash may have been meant as a file.
		return nil, fmt.Errorf("%s: %w, and %w", arg, ErrNotFound, err)
	}
	return one(img, err)
}

// afterLast runs cleanup once the last of imgs is closed: they share a
// temporary copy.
func afterLast(imgs []*Image, cleanup func()) []*Image {
	var open sync.WaitGroup
	open.Add(len(imgs))
	go func() { open.Wait(); cleanup() }()
	for _, img := range imgs {
		close := img.Close
		img.Close = sync.OnceFunc(func() { close(); open.Done() })
	}
	return imgs
}

// splitRef splits PATH:REF at the first colon whose left side is an
// existing file or directory; the REF may hold colons and slashes of its
// own (example.com/app:1). When no such colon exists, it returns s whole
// and false.
func splitRef(s string) (string, string, bool) {
	if _, err := os.Stat(s); err == nil {
		return s, "", true
	}
	for i := 0; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		if _, err := os.Stat(s[:i]); err == nil {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// namesPath reports whether an existing file is what the argument names:
// a directory, or a name that reads as a path (a slash, or a tar
// extension).
func namesPath(arg string, info os.FileInfo) bool {
	return info.IsDir() || strings.Contains(arg, "/") || hasTarExtension(arg)
}

func hasTarExtension(arg string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(arg, ext) {
			return true
		}
	}
	return false
}

// readsAsPath reports whether an argument can only be a file's name.
func readsAsPath(arg string) bool {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") || hasTarExtension(arg) {
		return true
	}
	if !strings.Contains(arg, "/") {
		return false
	}
	_, err := name.ParseReference(arg)
	return err != nil
}

// openPath opens a file or directory, with the transport the argument
// named, or the one its content shows.
func openPath(ctx context.Context, transport, path, ref string, opts Options) ([]*Image, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		return nil, err
	}
	switch {
	case transport == "" && info.IsDir() && ref == "" && isSkopeoDir(path):
		img, err := openDir(path)
		if err != nil {
			return nil, fmt.Errorf("reading skopeo's directory %s: %w", path, err)
		}
		return one(img, nil)
	case transport == OCILayout || transport == "" && info.IsDir():
		if !info.IsDir() {
			return nil, fmt.Errorf("%s: an OCI layout is a directory", path)
		}
		imgs, err := openLayout(path, ref, opts)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %s: %w", path, err)
		}
		return imgs, nil
	case info.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a %s", path, transport)
	}
	return openFile(ctx, transport, path, ref, opts)
}

// openFile opens an archive, as its transport says or as its content
// shows: a docker save tarball has manifest.json, an OCI archive has
// index.json and oci-layout. A whole archive compressed with gzip (docker
// save | gzip) is decompressed as it is read.
func openFile(ctx context.Context, transport, path, ref string, opts Options) ([]*Image, error) {
	open, err := fileOpener(ctx, path)
	if err != nil {
		return nil, err
	}
	if transport == "" {
		kind, err := archiveKind(open)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		transport = kind
	}
	if transport == OCIArchive {
		imgs, err := openOCIArchive(ctx, open, ref, opts)
		if err != nil {
			return nil, fmt.Errorf("reading OCI archive %s: %w", path, err)
		}
		return imgs, nil
	}
	img, err := openArchive(open, ref)
	if err != nil {
		return nil, fmt.Errorf("reading tarball %s: %w", path, err)
	}
	return []*Image{img}, nil
}

// tempDir is where opts puts temporary copies.
func tempDir(opts Options) (string, error) {
	if opts.TempDir == nil {
		return "", nil
	}
	return opts.TempDir()
}

// spool copies r to a temporary file.
func spool(ctx context.Context, r io.Reader, opts Options) (string, error) {
	dir, err := tempDir(opts)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "imgcompare-*.tar")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, ctxio.Detached(ctx, r)); err != nil {
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

// DefaultPlatforms are tried in order when no platform is asked for.
func DefaultPlatforms() []v1.Platform {
	host := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	if host.OS == "linux" && host.Architecture == "amd64" {
		return []v1.Platform{host}
	}
	return []v1.Platform{host, {OS: "linux", Architecture: "amd64"}}
}

// ParsePlatform parses os/arch[/variant].
func ParsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") > 2 || strings.Contains(s, ":") {
		return nil, fmt.Errorf("invalid platform %q: want os/arch or os/arch/variant, such as linux/arm64", s)
	}
	return p, nil
}

func noop() {}

// warn tells opts.Warn, if any.
func (opts Options) warn(format string, a ...any) {
	if opts.Warn != nil {
		opts.Warn(fmt.Sprintf(format, a...))
	}
}
