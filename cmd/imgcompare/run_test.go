package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

type result struct {
	stdout, stderr string
	code           int // 0 when run returned nil
}

func imgcompare(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"imgcompare"}, args...), func(string) string { return "" },
		bytes.NewReader(stdin), &stdout, &stderr)
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		var exit *exitError
		if !errors.As(err, &exit) {
			t.Fatalf("run returned %v, not an exit status", err)
		}
		r.code = exit.code
		if exit.err != nil {
			r.stderr += "imgcompare: " + exit.err.Error() + "\n"
		}
	}
	return r
}

func writeTarball(t *testing.T, img v1.Image, tag string) string {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

type jsonDoc struct {
	Images []struct {
		Name   string
		Source string
		Size   struct{ Uncompressed, Compressed int64 }
		Files  int
	}
	Violations []struct{ Image, Rule string }
}

func parse(t *testing.T, out string) jsonDoc {
	t.Helper()
	var doc jsonDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return doc
}

func TestSources(t *testing.T) {
	img := it.Scratch(t)
	tarPath := writeTarball(t, img, "example.com/scratch:1")
	tarBytes, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeLayout(t, img)

	r := imgcompare(t, tarBytes, "-o", "json", tarPath, dir, "-")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	doc := parse(t, r.stdout)
	if len(doc.Images) != 3 {
		t.Fatalf("%d images, want 3", len(doc.Images))
	}
	sources := []string{"tarball", "oci-layout", "tarball"}
	for i, got := range doc.Images {
		if got.Source != sources[i] || got.Size.Uncompressed != 300_000 || got.Files != 1 || got.Size.Compressed <= 0 {
			t.Errorf("image %d (%s): %+v", i, got.Name, got)
		}
	}
	if doc.Images[2].Name != "(stdin)" {
		t.Errorf("stdin image named %q", doc.Images[2].Name)
	}
}

func TestFormats(t *testing.T) {
	path := writeTarball(t, it.Scratch(t), "example.com/scratch:1")
	for format, want := range map[string]string{
		"table":    "IMAGE ",
		"markdown": "| Image |",
		"json":     `"schema": "imgcompare/v1"`,
		"svg":      "<svg ",
	} {
		r := imgcompare(t, nil, "-o", format, path)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("-o %s: exit %d, output lacks %q:\n%s%s", format, r.code, want, r.stdout, r.stderr)
		}
	}
}

func TestGates(t *testing.T) {
	alpine := writeTarball(t, it.Alpine(t), "example.com/alpine:1")
	scratch := writeTarball(t, it.Scratch(t), "example.com/scratch:1")

	pass := imgcompare(t, nil, "--max-size", "1MB", "--max-compressed-size", "10kB", "--min-reduction", "60%",
		"--forbid", "shell,package-manager,toolchain,root,setuid", alpine, scratch)
	if pass.code != 0 || pass.stderr != "" {
		t.Errorf("gates on the scratch image: exit %d, stderr %q", pass.code, pass.stderr)
	}

	// Flags may follow the images.
	fail := imgcompare(t, nil, scratch, alpine, "--max-size", "500kB", "--forbid", "shell,root", "--min-reduction", "95%")
	if fail.code != 1 {
		t.Fatalf("gates on the alpine-like image: exit %d, want 1\n%s", fail.code, fail.stderr)
	}
	wantLines := []string{
		"imgcompare: budget: " + alpine + ": --max-size: uncompressed size 880 kB (880007 bytes) exceeds 500 kB (500000 bytes)",
		"imgcompare: budget: " + alpine + ": --min-reduction: -193.34% smaller than " + scratch + ", want at least 95%",
		"imgcompare: budget: " + alpine + ": --forbid: shell: /bin/busybox, /bin/sh",
		"imgcompare: budget: " + alpine + ": --forbid: root: runs as root (no user set)",
	}
	if got := strings.Split(strings.TrimSpace(fail.stderr), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("violation lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
	if !strings.Contains(fail.stdout, "IMAGE ") {
		t.Error("the report is missing when a gate fails")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.tar")
	os.WriteFile(corrupt, []byte("this is not a tarball"), 0o644)

	// A tarball cut inside its layer.
	whole := writeTarball(t, it.Image(t, v1.Config{}, it.By("big", it.Layer(t, it.File("big", 2<<20)))), "example.com/big:1")
	b, _ := os.ReadFile(whole)
	truncated := filepath.Join(dir, "truncated.tar")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)

	emptyDir := t.TempDir()

	// A layer with an entry that climbs out of the root.
	breakout := writeTarball(t, it.Image(t, v1.Config{}, it.By("evil", it.Layer(t,
		it.Entry{Name: "../../etc/passwd", Size: 10, Mode: 0o4755}))), "example.com/evil:1")

	// A layer that is not the one its config names.
	good := it.Image(t, v1.Config{}, it.By("one", it.Layer(t, it.File("a", 10))))
	cf, err := good.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	tampered, err := mutate.ConfigFile(good, cf)
	if err != nil {
		t.Fatal(err)
	}
	mismatch := writeTarball(t, tampered, "example.com/tampered:1")

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"corrupt tarball", []string{corrupt}, corrupt},
		{"truncated tarball", []string{truncated}, truncated},
		{"not an image directory", []string{emptyDir}, emptyDir},
		{"missing file", []string{"./missing.tar"}, "missing.tar"},
		{"entry outside the root", []string{breakout}, `entry "../../etc/passwd": breakout`},
		{"layer not matching its diff_id", []string{mismatch}, "layer 1 of 1 (sha256:abab"},
		{"no image", nil, "no image given"},
		{"unknown flag", []string{"--bogus", corrupt}, "flag provided but not defined: -bogus"},
		{"bad size", []string{"--max-size", "huge", corrupt}, `invalid size "huge"`},
		{"bad percent", []string{"--min-reduction", "120%", corrupt, corrupt}, `invalid percentage "120%"`},
		{"bad finding", []string{"--forbid", "compiler", corrupt}, `unknown finding "compiler"`},
		{"bad format", []string{"-o", "yaml", corrupt}, `unknown format "yaml"`},
		{"reduction without baseline", []string{"--min-reduction", "90%", corrupt}, "needs a baseline"},
		{"stdin twice", []string{"-", "-"}, "only once"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := imgcompare(t, nil, c.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout holds %q, want nothing", r.stdout)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr = %q, want one line naming %q", r.stderr, c.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r := imgcompare(t, nil, "-help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: imgcompare") || !strings.Contains(r.stdout, "-max-compressed-size") {
		t.Errorf("-help: exit %d\n%s", r.code, r.stdout)
	}
}
