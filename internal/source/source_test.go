package source

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestNamesPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "echo_app")
	os.WriteFile(file, []byte("a binary"), 0o755)
	info, _ := os.Stat(file)
	dirInfo, _ := os.Stat(dir)
	for _, c := range []struct {
		arg  string
		info os.FileInfo
		want bool
	}{
		{"echo_app", info, false}, // a file in the working directory named like an image
		{"./echo_app", info, true},
		{file, info, true},
		{"image.tar", info, true},
		{"image.tar.gz", info, true},
		{"layout", dirInfo, true},
	} {
		if got := namesPath(c.arg, c.info); got != c.want {
			t.Errorf("namesPath(%q) = %v, want %v", c.arg, got, c.want)
		}
	}
}

func TestReadsAsPath(t *testing.T) {
	for arg, want := range map[string]bool{
		"/abs/image": true, "./image": true, "../image": true, "image.tar": true, "image.tgz": true,
		"Dir/Image": true, // no reference has capitals in its repository
		"echo_app":  false, "echo_app:latest": false, "myorg/app:1": false, "example.com/app": false,
	} {
		if got := readsAsPath(arg); got != want {
			t.Errorf("readsAsPath(%q) = %v, want %v", arg, got, want)
		}
	}
}

func TestSplitRef(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "two.tar")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct{ arg, path, ref string }{
		{file, file, ""},
		{file + ":example.com/app:1", file, "example.com/app:1"},
		{file + ":@1", file, "@1"},
		{file + ":sha256:abc", file, "sha256:abc"},
	} {
		path, ref, ok := splitRef(c.arg)
		if !ok || path != c.path || ref != c.ref {
			t.Errorf("splitRef(%q) = %q, %q, %v; want %q, %q", c.arg, path, ref, ok, c.path, c.ref)
		}
	}
	if _, _, ok := splitRef(filepath.Join(dir, "missing.tar:x")); ok {
		t.Error("a missing path was split")
	}
}

func TestLoopbackRegistry(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:15000": true, "[::1]:5000": true, "127.0.0.2": true,
		"registry.example": false, "10.0.0.1:5000": false, "ghcr.io": false,
	} {
		if got := loopbackRegistry(host); got != want {
			t.Errorf("loopbackRegistry(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParsePlatform(t *testing.T) {
	for _, ok := range []string{"linux/amd64", "linux/arm/v7", "linux/arm64"} {
		if _, err := ParsePlatform(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"linux", "", "linux/arm/v7/x", "linux/amd64:1"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestVerifiedLayout tampers with the blobs of a layout go-containerregistry
// wrote: a layer read to its end, the config and the manifest each fail
// with ErrBlob.
func TestVerifiedLayout(t *testing.T) {
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(t *testing.T, blob func(v1.Image) v1.Hash) string {
		dir := t.TempDir()
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		if blob == nil {
			return dir
		}
		h := blob(img)
		file := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	read := func(dir string) error {
		imgs, err := openLayout(dir, "", Options{})
		if err != nil {
			return err
		}
		if _, err := imgs[0].ConfigFile(); err != nil {
			return err
		}
		layers, err := imgs[0].Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := read(tamper(t, nil)); err != nil {
		t.Fatalf("untouched: %v", err)
	}
	for name, blob := range map[string]func(v1.Image) v1.Hash{
		"manifest": func(i v1.Image) v1.Hash { h, _ := i.Digest(); return h },
		"config":   func(i v1.Image) v1.Hash { h, _ := i.ConfigName(); return h },
		"layer": func(i v1.Image) v1.Hash {
			ls, _ := i.Layers()
			h, _ := ls[1].Digest()
			return h
		},
	} {
		if err := read(tamper(t, blob)); !errors.Is(err, ErrBlob) {
			t.Errorf("%s changed: %v, want ErrBlob", name, err)
		}
	}
}
