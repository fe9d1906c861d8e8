package source

import (
	"os"
	"path/filepath"
	"testing"
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
