// Package imagetest builds small, deterministic container images in
// memory for tests: layers from a list of tar entries, images from
// layers and a config. No Docker engine is involved.
package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a layer.
type Entry struct {
	Name     string
	Mode     int64 // permission bits and setuid/setgid/sticky; 0644 or 0755 when zero
	Size     int64 // for files given no Content: that many bytes of filler
	Content  []byte
	Dir      bool
	Symlink  string // the target, for a symlink
	Hardlink string // the target, for a hard link
}

// File, Dir and Symlink make common entries.
func File(name string, size int64) Entry { return Entry{Name: name, Size: size} }
func Dir(name string) Entry              { return Entry{Name: name, Dir: true} }
func Symlink(name, target string) Entry  { return Entry{Name: name, Symlink: target} }

// Whiteout deletes name from the layers below.
func Whiteout(dir, name string) Entry { return File(dir+"/.wh."+name, 0) }

// Opaque hides everything the layers below put in dir.
func Opaque(dir string) Entry { return File(dir+"/.wh..wh..opq", 0) }

// TarBytes writes entries as an uncompressed tar archive.
func TarBytes(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Format: tar.FormatPAX}
		switch {
		case e.Dir:
			h.Typeflag = tar.TypeDir
			if h.Mode == 0 {
				h.Mode = 0o755
			}
		case e.Symlink != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.Symlink, 0o777
		case e.Hardlink != "":
			h.Typeflag, h.Linkname = tar.TypeLink, e.Hardlink
		default:
			h.Typeflag = tar.TypeReg
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			h.Size = e.Size
			if e.Content != nil {
				h.Size = int64(len(e.Content))
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			content := e.Content
			if content == nil {
				content = filler(e.Size)
			}
			if _, err := tw.Write(content); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// filler is compressible but not trivially so: a repeating text.
func filler(n int64) []byte {
	const text = "I love alpacas! I love llamas! I love vicuñas! "
	b := make([]byte, n)
	for i := range b {
		b[i] = text[i%len(text)]
	}
	return b
}

// LayerFromBytes makes a layer of an uncompressed tar archive.
func LayerFromBytes(t testing.TB, b []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Layer makes a layer of entries.
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	return LayerFromBytes(t, TarBytes(t, entries...))
}

// Step is a layer with the history line that made it.
type Step struct {
	CreatedBy string
	Layer     v1.Layer
}

// Image stacks the layers, bottom first, under config.
func Image(t testing.TB, config v1.Config, steps ...Step) v1.Image {
	t.Helper()
	img := empty.Image
	for _, s := range steps {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: s.Layer, History: v1.History{CreatedBy: s.CreatedBy}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = config
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Alpine is a small image shaped like the original demo's: a busybox
// shell, an apk database, a world-writable /tmp, and a root user.
func Alpine(t testing.TB) v1.Image {
	return Image(t, v1.Config{Cmd: []string{"/bin/sh"}},
		By("ADD rootfs.tar /", Layer(t,
			Dir("bin"), File("bin/busybox", 800_000), Symlink("bin/sh", "busybox"),
			Dir("lib"), Dir("lib/apk"), Dir("lib/apk/db"), File("lib/apk/db/installed", 20_000),
			Dir("sbin"), File("sbin/apk", 60_000),
			Entry{Name: "tmp", Dir: true, Mode: 0o1777},
		)),
	)
}

// Scratch is a multi-stage result: one static binary, a non-root user and
// a health check.
func Scratch(t testing.TB) v1.Image {
	return Image(t, v1.Config{
		User:         "65532:65532",
		Entrypoint:   []string{"/app"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Healthcheck:  &v1.HealthConfig{Test: []string{"CMD", "/app", "-healthcheck"}},
	},
		By("COPY /out/app /app", Layer(t, Entry{Name: "app", Size: 300_000, Mode: 0o755})),
	)
}

// By is the step that made layer with the command createdBy.
func By(createdBy string, layer v1.Layer) Step { return Step{CreatedBy: createdBy, Layer: layer} }

// GeneratedLayer is a layer of files files of fileSize bytes each, made
// on the fly every time it is read, so a layer of gigabytes costs no
// memory. The content is pseudo-random over a small alphabet, so it
// compresses about as well as executables do.
func GeneratedLayer(files int, fileSize int64) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(writeGenerated(pw, files, fileSize))
		}()
		return pr, nil
	})
}

func writeGenerated(w io.Writer, files int, fileSize int64) error {
	tw := tar.NewWriter(w)
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 64<<10)
	for i := range files {
		h := &tar.Header{Name: fmt.Sprintf("data/file-%04d.bin", i), Mode: 0o644, Size: fileSize, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		for left := fileSize; left > 0; {
			n := min(left, int64(len(chunk)))
			for j := range chunk[:n] {
				chunk[j] = "abcdefghijklmnop"[rng.IntN(16)]
			}
			if _, err := tw.Write(chunk[:n]); err != nil {
				return err
			}
			left -= n
		}
	}
	return tw.Close()
}
