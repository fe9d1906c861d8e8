// Package imagetest builds small, deterministic container images in
// memory for tests: layers from a list of tar entries, images from
// layers and a config. No Docker engine is involved.
package imagetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a layer.
type Entry struct {
	Name     string
	Mode     int64 // permission bits and setuid/setgid/sticky; 0644 or 0755 when zero (a hard link's target's)
	Size     int64 // for files given no Content: that many bytes of filler
	Content  []byte
	Dir      bool
	Symlink  string // the target, for a symlink
	Hardlink string // the target, for a hard link
	Char     bool   // a character device
}

// File, Executable (mode 0755, content an ELF header and filler), Dir and
// Symlink make common entries.
func File(name string, size int64) Entry { return Entry{Name: name, Size: size} }
func Executable(name string, size int64) Entry {
	b := filler(size)
	copy(b, "\x7fELF")
	return Entry{Name: name, Content: b, Mode: 0o755}
}
func Dir(name string) Entry             { return Entry{Name: name, Dir: true} }
func Symlink(name, target string) Entry { return Entry{Name: name, Symlink: target} }

// Whiteout deletes name from the layers below; dir "" is the root.
func Whiteout(dir, name string) Entry { return File(path.Join(dir, ".wh."+name), 0) }

// Opaque hides everything the layers below put in dir.
func Opaque(dir string) Entry { return File(dir+"/.wh..wh..opq", 0) }

// TarBytes writes entries as an uncompressed tar archive.
func TarBytes(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	modes := map[string]int64{} // as written, for hard links
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
			// tar writes a link with its file's mode.
			h.Typeflag, h.Linkname = tar.TypeLink, e.Hardlink
			if h.Mode == 0 {
				h.Mode = modes[e.Hardlink]
			}
		case e.Char:
			h.Typeflag = tar.TypeChar
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
		modes[e.Name] = h.Mode
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
			Dir("bin"), Executable("bin/busybox", 800_000), Symlink("bin/sh", "busybox"),
			Dir("lib"), Dir("lib/apk"), Dir("lib/apk/db"), File("lib/apk/db/installed", 20_000),
			Dir("sbin"), Executable("sbin/apk", 60_000),
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

// DockerSave writes images as docker save does: one tarball with
// manifest.json, each config as <hex>.json and each layer uncompressed as
// <diff_id hex>/layer.tar. tags[i] names images[i]; "" leaves it untagged.
func DockerSave(t testing.TB, file string, tags []string, images ...v1.Image) {
	t.Helper()
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	add := func(name string, b []byte) {
		if written[name] {
			return
		}
		written[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for i, img := range images {
		raw, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		digest, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		e := entry{Config: digest.Hex + ".json"}
		if tags[i] != "" {
			e.RepoTags = []string{tags[i]}
		}
		add(e.Config, raw)
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			diffID, err := l.DiffID()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			name := diffID.Hex + "/layer.tar"
			add(name, b)
			e.Layers = append(e.Layers, name)
		}
		manifest = append(manifest, e)
	}
	m, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TarDir writes the files under dir as a tar archive, as an OCI archive
// holds a layout.
func TarDir(t testing.TB, dir, file string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TwoPlatforms writes an OCI layout holding one multi-platform index, as
// docker buildx writes it: Scratch for linux/amd64 and a one-file image for
// linux/arm64, the index named name (its ref.name annotation). It returns
// the layout's directory.
func TwoPlatforms(t testing.TB, name string) string {
	t.Helper()
	arm64 := Image(t, v1.Config{}, By("COPY app", Layer(t, File("app", 1234))))
	cf, err := arm64.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "arm64"
	if arm64, err = mutate.ConfigFile(arm64, cf); err != nil {
		t.Fatal(err)
	}
	index := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: Scratch(t), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm64, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(index, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Stack is a named stack of layers, bottom first.
type Stack struct {
	Name   string
	Layers [][]Entry
}

// WasteEdges are layer stacks on which dive's waste figures differ from a
// plain reading of the layers.
func WasteEdges() []Stack {
	return []Stack{
		{"a top layer that only deletes", [][]Entry{
			{File("f", 100_000), File("g", 5_000)},
			{Whiteout("", "f")},
		}},
		{"a whiteout of nothing stops its layer", [][]Entry{
			{File("b", 1_000), File("c", 2_000)},
			{Whiteout("", "n"), File("b", 500), File("c", 700)},
		}},
		{"inside a symlinked directory", [][]Entry{
			{Dir("run"), File("run/x", 3_000), Dir("var"), Symlink("var/run", "/run"), File("var/z", 10)},
			{Whiteout("var/run", "x"), File("var/z", 20)},
		}},
		{"an opaque directory removed", [][]Entry{
			{Dir("d"), File("d/x", 30_000)},
			{Dir("d"), Opaque("d")},
			{Whiteout("", "d")},
		}},
		{"a directory only implied", [][]Entry{
			{Dir("d"), File("d/x", 5_000)},
			{File("d/y", 100)},
			{Whiteout("", "d"), File("d", 0)},
		}},
		{"a directory, a file, a directory", [][]Entry{
			{Dir("d"), File("d/x", 30_000)},
			{File("d", 400)},
			{Dir("d")},
			{Whiteout("", "d")},
		}},
		{"a name listed twice", [][]Entry{
			{File("f", 1_000)},
			{File("f", 3_000), File("f", 4_000)},
		}},
		{"29% exactly", [][]Entry{
			{File("f", 14_500)},
			{File("f", 14_500), File("g", 85_500)},
		}},
	}
}
