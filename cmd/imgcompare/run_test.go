package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	err := run(context.Background(), append([]string{"imgcompare"}, args...), bytes.NewReader(stdin), &stdout, &stderr)
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
		Size   struct {
			Uncompressed, Compressed int64
			CompressedSource         string `json:"compressed_source"`
		}
		Files int
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

// sources writes img as a docker save tarball, gzipped too, an OCI layout
// and an OCI archive.
type sources struct {
	saved, gzipped, layout, archive string
	savedBytes, archiveBytes        []byte
}

func writeSources(t *testing.T, img v1.Image) sources {
	t.Helper()
	dir := t.TempDir()
	s := sources{saved: filepath.Join(dir, "saved.tar"), gzipped: filepath.Join(dir, "saved.tar.gz"), archive: filepath.Join(dir, "oci.tar")}
	it.DockerSave(t, s.saved, []string{"example.com/scratch:1"}, img)
	var err error
	if s.savedBytes, err = os.ReadFile(s.saved); err != nil {
		t.Fatal(err)
	}
	writeGzip(t, s.gzipped, s.savedBytes)
	s.layout = writeLayout(t, img)
	it.TarDir(t, s.layout, s.archive)
	if s.archiveBytes, err = os.ReadFile(s.archive); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSources(t *testing.T) {
	img := it.Scratch(t)
	src := writeSources(t, img)
	saved, savedBytes, gzipped, layoutDir, archive, archiveBytes := src.saved, src.savedBytes, src.gzipped, src.layout, src.archive, src.archiveBytes
	kaniko := writeTarball(t, img, "example.com/scratch:1") // layers stored gzipped

	for _, c := range []struct {
		args        []string
		stdin       []byte
		source      string
		compression string
	}{
		// A layer this small is compressed whole even when estimating.
		{[]string{saved}, nil, "docker-archive", "computed"},
		{[]string{"docker-archive:" + saved}, nil, "docker-archive", "computed"},
		{[]string{"--exact-compressed", saved}, nil, "docker-archive", "computed"},
		{[]string{gzipped}, nil, "docker-archive", "computed"},
		{[]string{"-"}, savedBytes, "docker-archive", "computed"},
		{[]string{kaniko}, nil, "docker-archive", "stored"},
		{[]string{layoutDir}, nil, "oci", "stored"},
		{[]string{"oci:" + layoutDir}, nil, "oci", "stored"},
		{[]string{archive}, nil, "oci-archive", "stored"},
		{[]string{"oci-archive:" + archive}, nil, "oci-archive", "stored"},
		{[]string{"-"}, archiveBytes, "oci-archive", "stored"},
	} {
		r := imgcompare(t, c.stdin, append([]string{"-o", "json"}, c.args...)...)
		if r.code != 0 {
			t.Errorf("%v: exit %d: %s", c.args, r.code, r.stderr)
			continue
		}
		doc := parse(t, r.stdout)
		got := doc.Images[0]
		if got.Source != c.source || got.Size.CompressedSource != c.compression || got.Size.Uncompressed != 300_000 || got.Files != 1 || got.Size.Compressed <= 0 {
			t.Errorf("%v: %+v, want source %s, compression %s", c.args, got, c.source, c.compression)
		}
	}
}

func writeGzip(t *testing.T, file string, b []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestManyImages picks one image from archives and layouts that hold
// several, and lists them when the argument does not say which.
func TestManyImages(t *testing.T) {
	alpine, scratch := it.Alpine(t), it.Scratch(t)
	dir := t.TempDir()
	saved := filepath.Join(dir, "two.tar")
	it.DockerSave(t, saved, []string{"example.com/alpine:1", ""}, alpine, scratch)
	scratchID, err := scratch.ConfigName()
	if err != nil {
		t.Fatal(err)
	}

	named := filepath.Join(dir, "layout")
	p, err := layout.Write(named, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		img  v1.Image
		name string
	}{{alpine, "alpine"}, {scratch, "scratch"}} {
		if err := p.AppendImage(c.img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": c.name})); err != nil {
			t.Fatal(err)
		}
	}
	scratchDigest, err := scratch.Digest()
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		arg   string
		files int // 0: an error listing the images is wanted
	}{
		{saved, 0},
		{saved + ":example.com/alpine:1", 3},
		{saved + ":@1", 1},
		{saved + ":" + scratchID.String()[:19], 1},
		{"docker-archive:" + saved + ":@0", 3},
		{saved + ":example.com/nothere:1", 0},
		{named, 0},
		{named + ":scratch", 1},
		{"oci:" + named + ":alpine", 3},
		{named + ":" + scratchDigest.String(), 1},
		{named + ":@0", 3},
	} {
		r := imgcompare(t, nil, "-o", "json", c.arg)
		if c.files == 0 {
			if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "@0") || !strings.Contains(r.stderr, "@1") {
				t.Errorf("%s: exit %d, stderr %q; want 2 and a list of the images", c.arg, r.code, r.stderr)
			}
			continue
		}
		if r.code != 0 {
			t.Errorf("%s: exit %d: %s", c.arg, r.code, r.stderr)
			continue
		}
		if got := parse(t, r.stdout).Images[0].Files; got != c.files {
			t.Errorf("%s: %d files, want %d", c.arg, got, c.files)
		}
	}
}

// TestPlatformOfSingleImage: --platform is checked against a
// single-platform image too, not ignored.
func TestPlatformOfSingleImage(t *testing.T) {
	path := writeTarball(t, it.Scratch(t), "amd64:1")
	if r := imgcompare(t, nil, "--platform", "linux/arm64", path); r.code != 2 || !strings.Contains(r.stderr, "is a linux/amd64 image, not linux/arm64") {
		t.Errorf("--platform linux/arm64 on an amd64 image: exit %d, stderr %q; want 2 naming both", r.code, r.stderr)
	}
	if r := imgcompare(t, nil, "--platform", "linux/amd64", path); r.code != 0 {
		t.Errorf("--platform linux/amd64 on an amd64 image: exit %d: %s", r.code, r.stderr)
	}
}

// TestPlatforms reads a multi-platform index, as docker buildx writes it.
func TestPlatforms(t *testing.T) {
	dir := it.TwoPlatforms(t, "multi")
	for _, c := range []struct {
		args []string
		arch string // "": an error listing the platforms is wanted
	}{
		{[]string{dir}, "amd64"},
		{[]string{"--platform", "linux/arm64", dir}, "arm64"},
		{[]string{"--platform", "linux/s390x", dir}, ""},
		{[]string{"--all-platforms", dir}, "amd64,arm64"},
	} {
		r := imgcompare(t, nil, append([]string{"-o", "json"}, c.args...)...)
		if c.arch == "" {
			if r.code != 2 || !strings.Contains(r.stderr, "linux/amd64, linux/arm64") {
				t.Errorf("%v: exit %d, stderr %q; want 2 listing the platforms", c.args, r.code, r.stderr)
			}
			continue
		}
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, r.code, r.stderr)
		}
		var doc struct {
			Images []struct{ Name, Architecture string }
		}
		json.Unmarshal([]byte(r.stdout), &doc)
		var archs []string
		for _, img := range doc.Images {
			archs = append(archs, img.Architecture)
		}
		if strings.Join(archs, ",") != c.arch {
			t.Errorf("%v: %v, want %s", c.args, archs, c.arch)
		}
		if len(doc.Images) > 1 && !strings.HasSuffix(doc.Images[1].Name, " [linux/arm64]") {
			t.Errorf("%v: the second image is named %q", c.args, doc.Images[1].Name)
		}
	}
}

func TestFormats(t *testing.T) {
	path := writeTarball(t, it.Scratch(t), "example.com/scratch:1")
	for format, want := range map[string]string{
		"table":    "IMAGE ",
		"markdown": "| Image |",
		"json":     `"schema": "imgcompare/v2"`,
		"junit":    `<testsuite name="` + path + `"`,
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

	// As JUnit: the same exit status, a case per rule, four failed.
	junit := imgcompare(t, nil, scratch, alpine, "-o", "junit", "--max-size", "500kB", "--forbid", "shell,root", "--min-reduction", "95%")
	if junit.code != 1 || strings.Count(junit.stdout, "<testcase ") != 4 || strings.Count(junit.stdout, "<failure ") != 4 ||
		!strings.Contains(junit.stdout, `<failure message="shell: /bin/busybox, /bin/sh" type="forbid">`) {
		t.Errorf("-o junit: exit %d\n%s%s", junit.code, junit.stdout, junit.stderr)
	}

	// --report writes more formats from the same reading: the files hold
	// what -o gives.
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "report.json"), filepath.Join(dir, "junit.xml")
	both := imgcompare(t, nil, scratch, alpine, "--report", "json="+jsonFile, "--report", "junit="+junitFile, "--max-size", "500kB", "--forbid", "shell,root", "--min-reduction", "95%")
	gotJUnit, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if both.code != 1 || !strings.HasPrefix(both.stdout, "IMAGE ") || both.stderr != fail.stderr ||
		stamp.ReplaceAllString(string(gotJUnit), "") != stamp.ReplaceAllString(junit.stdout, "") ||
		len(parse(t, string(gotJSON)).Violations) != 4 {
		t.Errorf("--report: exit %d, stdout %.40q, stderr %q\n%s", both.code, both.stdout, both.stderr, gotJUnit)
	}
	for _, bad := range [][]string{{"--report", "yaml=x"}, {"--report", "json"}, {"--report", "json="}, {"--report", "json=" + filepath.Join(dir, "no", "such", "dir")}} {
		if r := imgcompare(t, nil, append(bad, scratch)...); r.code != 2 || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q: want 2 and nothing", bad, r.code, r.stdout)
		}
	}
}

// stamp matches the time a JUnit document was written.
var stamp = regexp.MustCompile(` timestamp="[^"]*"`)

// TestWasteGates gates on dive's figures, for an image whose second layer
// replaces a 1000-byte file and removes a directory.
func TestWasteGates(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1000"},
		it.By("ADD base", it.Layer(t, it.File("app", 1000), it.Dir("cache"), it.File("cache/a", 300), it.File("cache/b", 200))),
		it.By("RUN update", it.Layer(t, it.File("app", 1200), it.Whiteout("", "cache"))),
	)
	path := writeTarball(t, img, "example.com/wasteful:1")
	if r := imgcompare(t, nil, "--min-efficiency", "0.6", "--max-wasted-bytes", "3kB", "--max-wasted-percent", "200%", path); r.code != 0 {
		t.Errorf("loose gates: exit %d: %s", r.code, r.stderr)
	}
	r := imgcompare(t, nil, "--min-efficiency", "90%", "--max-wasted-bytes", "1kB", "--max-wasted-percent", "0.5", path)
	want := []string{
		"imgcompare: budget: " + path + ": --min-efficiency: efficiency 62.5% is below 90%",
		"imgcompare: budget: " + path + ": --max-wasted-bytes: wasted 2.20 kB (2200 bytes) exceeds 1.00 kB (1000 bytes)",
		"imgcompare: budget: " + path + ": --max-wasted-percent: wasted 183.3% of the layers above the first exceeds 50%",
	}
	if r.code != 1 || strings.TrimSpace(r.stderr) != strings.Join(want, "\n") {
		t.Errorf("tight gates: exit %d\n%s\nwant:\n%s", r.code, r.stderr, strings.Join(want, "\n"))
	}
}

// TestDiff runs imgcompare diff on images whose differences are known:
// exit 1 with the changes listed, 0 for the same image twice or once every
// difference is ignored, 2 for trouble.
func TestDiff(t *testing.T) {
	before := it.Image(t, v1.Config{Labels: map[string]string{"rev": "1"}},
		it.By("base", it.Layer(t, it.File("app", 1000), it.File("cache/x", 300))))
	after := it.Image(t, v1.Config{Labels: map[string]string{"rev": "2"}},
		it.By("base", it.Layer(t, it.File("app", 1200), it.Entry{Name: "etc/new", Size: 10, Mode: 0o600})))
	a := writeTarball(t, before, "example.com/app:1")
	b := writeTarball(t, after, "example.com/app:2")

	r := imgcompare(t, nil, "diff", "-o", "json", a, b)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	var doc struct {
		Schema    string
		Identical bool
		Files     []struct {
			Path, Change string
			What         []string
			Delta        int64 `json:"size_delta"`
		}
		Config []struct{ Field, Before, After string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	var files []string
	for _, f := range doc.Files {
		files = append(files, fmt.Sprintf("%s %s %d %s", f.Change, f.Path, f.Delta, strings.Join(f.What, "+")))
	}
	want := "removed /cache/x -300 ,changed /app 200 size,added /etc/new 10 ,removed /cache 0 ,added /etc 0 "
	if doc.Schema != "imgcompare-diff/v1" || doc.Identical || strings.Join(files, ",") != want {
		t.Errorf("schema %q identical %v files %v; want %s", doc.Schema, doc.Identical, files, want)
	}
	if len(doc.Config) != 1 || doc.Config[0].Field != "label:rev" {
		t.Errorf("config changes %+v", doc.Config)
	}
	for _, format := range []string{"table", "markdown"} {
		r := imgcompare(t, nil, "diff", "-o", format, a, b)
		if r.code != 1 || !strings.Contains(r.stdout, "/etc/new") || !strings.Contains(r.stdout, "label:rev") {
			t.Errorf("-o %s: exit %d\n%s", format, r.code, r.stdout)
		}
	}
	if r := imgcompare(t, nil, "diff", a, a); r.code != 0 || !strings.Contains(r.stdout, "identical") {
		t.Errorf("an image against itself: exit %d\n%s", r.code, r.stdout)
	}
	if r := imgcompare(t, nil, "diff", "--ignore", "/app", "--ignore", "/cache", "--ignore", "/etc", "--ignore", "label:rev", a, b); r.code != 0 {
		t.Errorf("every difference ignored: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"diff", a}, {"diff", "-o", "svg", a, b}, {"diff", "--ignore", "colour", a, b}, {"diff", a, "./missing.tar"}} {
		if r := imgcompare(t, nil, bad...); r.code != 2 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing", bad, r.code, r.stdout)
		}
	}
}

// TestManifestOnly reads a layout's manifest and config alone.
func TestManifestOnly(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1000", Labels: map[string]string{"org.opencontainers.image.revision": "abc"}},
		it.By("COPY app", it.Layer(t, it.File("app", 5000))))
	dir := writeLayout(t, img)
	r := imgcompare(t, nil, "--manifest-only", "-o", "json", "--max-compressed-size", "1MB", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Images []struct {
			ManifestOnly bool `json:"manifest_only"`
			Size         struct {
				Uncompressed *int64
				Compressed   int64
			}
			Files  *int
			Waste  *struct{}
			Config struct{ Labels map[string]string }
			Layers []struct{ Compressed int64 }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Images[0]
	if !got.ManifestOnly || got.Size.Uncompressed != nil || got.Files != nil || got.Waste != nil ||
		got.Size.Compressed <= 0 || len(got.Layers) != 1 || got.Layers[0].Compressed != got.Size.Compressed ||
		got.Config.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("manifest only: %+v", got)
	}
	if r := imgcompare(t, nil, "--manifest-only", "--max-compressed-size", "10B", dir); r.code != 1 {
		t.Errorf("a compressed-size gate on the manifest alone: exit %d, want 1", r.code)
	}
	saved := filepath.Join(t.TempDir(), "saved.tar")
	it.DockerSave(t, saved, []string{"example.com/app:1"}, img)
	for _, args := range [][]string{{"--manifest-only", saved}, {"--manifest-only", "--max-size", "1MB", dir}} {
		if r := imgcompare(t, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.stderr)
		}
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
		{"missing bare tarball", []string{"missing.tar"}, "missing.tar: no such file or directory"},
		{"missing absolute path", []string{"/nowhere/image"}, "/nowhere/image: no such file or directory"},
		{"missing path that reads as a reference", []string{"nowhere/image"}, "nowhere/image: no such file or directory"},
		{"missing layout with a transport", []string{"oci:/nowhere"}, "/nowhere: no such file or directory"},
		{"bad platform", []string{"--platform", "linux", corrupt}, `invalid platform "linux"`},
		{"bad efficiency", []string{"--min-efficiency", "150%", corrupt}, `invalid share "150%"`},
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
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: imgcompare") || !strings.Contains(r.stdout, "-max-compressed-size") || !strings.Contains(r.stdout, "oci-archive:PATH[:REF]") || !strings.Contains(r.stdout, "diff_id") || !strings.Contains(r.stdout, "-min-efficiency") {
		t.Errorf("-help: exit %d\n%s", r.code, r.stdout)
	}
}

// TestPackageGates: --forbid-package and --max-growth from the command
// line, --base naming the base image's layers, and their bad values.
func TestPackageGates(t *testing.T) {
	base := it.Layer(t, it.File("bin/sh", 1000))
	baseImage := it.Image(t, v1.Config{}, it.By("base", base))
	app := it.Image(t, v1.Config{}, it.By("base", base), it.By("RUN apt-get install gcc-12", it.Layer(t,
		it.Entry{Name: "var/lib/dpkg/status", Content: []byte("Package: gcc-12\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n")},
		it.Entry{Name: "var/lib/dpkg/info/gcc-12.list", Content: []byte("/usr/bin/gcc-12\n")},
		it.File("usr/bin/gcc-12", 40000))))
	baseTar, appTar := writeTarball(t, baseImage, "example.com/base:1"), writeTarball(t, app, "example.com/app:1")

	r := imgcompare(t, nil, "--forbid-package", "gcc-12", appTar)
	if r.code != 1 || !strings.Contains(r.stderr, "--forbid-package: deb gcc-12 12.2.0-14") {
		t.Errorf("--forbid-package gcc-12: exit %d, %q", r.code, r.stderr)
	}
	r = imgcompare(t, nil, "--max-growth", "10%", "--base", baseTar, "-o", "json", baseTar, appTar)
	if r.code != 1 || !strings.Contains(r.stderr, "the base image (layers 1-1, --base "+baseTar+") +0 B, the image's own layers +40.") ||
		!strings.Contains(r.stderr, "deb gcc-12 added +40.0 kB") || !strings.Contains(r.stdout, `"from": "--base `+baseTar+`"`) {
		t.Errorf("--max-growth 10%%: exit %d, %q\n%s", r.code, r.stderr, r.stdout)
	}
	if r := imgcompare(t, nil, "--max-growth", "1MB", baseTar, appTar); r.code != 0 {
		t.Errorf("--max-growth 1MB: exit %d, %q", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"--max-growth", "lots", appTar},
		{"--forbid-package", " , ", appTar},
		{"--packages", "-1", appTar},
		{"--base", filepath.Join(t.TempDir(), "missing.tar"), appTar},
		{"--manifest-only", "--forbid-package", "gcc-12", appTar},
	} {
		if r := imgcompare(t, nil, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
}
