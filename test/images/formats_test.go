package images

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// buildkitLayout builds a Dockerfile with BuildKit into an OCI layout
// directory, as docker buildx build --output type=oci,tar=false writes it.
func buildkitLayout(t *testing.T, dockerfile string, flags ...string) string {
	t.Helper()
	return buildkit(t, dockerfile, "type=oci,tar=false", flags...)
}

type formatsDoc struct {
	Images []struct {
		Name         string
		Source       string
		Architecture string
		Files        int
		Size         struct {
			Uncompressed, Compressed int64
			CompressedSource         string   `json:"compressed_source"`
			Formats                  []string `json:"compression_formats"`
		}
	}
}

func parseFormats(t *testing.T, stdout string) formatsDoc {
	t.Helper()
	return parseJSON[formatsDoc](t, stdout)
}

// TestZstdLayers reads zstd layers as BuildKit's docker exporter and
// skopeo write them: each source names the format it holds.
func TestZstdLayers(t *testing.T) {
	dockertest.BuildImages(t)
	zstdSave := buildkit(t, "FROM scratch\nCOPY file /file\n", "type=docker,compression=zstd,force-compression=true", "--provenance", "false")

	// skopeo's OCI layout of the alpine image, its layers recompressed
	// with zstd.
	dir := t.TempDir()
	plain := filepath.Join(dir, "alpine.tar")
	dockertest.Docker(t, "save", "-o", plain, dockertest.Alpine)
	layout := filepath.Join(dir, "zstd")
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--dest-compress-format", "zstd", "docker-archive:"+plain, "oci:"+layout+":a").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --dest-compress-format zstd: %v\n%s", err, out)
	}
	stdout, stderr, code := imgcompare(t, "-o", "json", zstdSave, layout+":a", plain)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc := parseFormats(t, stdout)
	for i, want := range []string{"zstd", "zstd"} {
		img := doc.Images[i]
		if strings.Join(img.Size.Formats, "+") != want || img.Size.CompressedSource != "stored" {
			t.Errorf("%s: %s %v, want stored %s", img.Name, img.Size.CompressedSource, img.Size.Formats, want)
		}
	}
	if a, b := doc.Images[1], doc.Images[2]; a.Files != b.Files || a.Size.Uncompressed != b.Size.Uncompressed {
		t.Errorf("zstd layout %+v, the save it was copied from %+v", a, b)
	}
	text, _, _ := imgcompare(t, zstdSave)
	if !strings.Contains(text, "stored zstd") || strings.Contains(text, "stored gzip") {
		t.Errorf("the table does not say stored zstd:\n%s", text)
	}
}

// TestPartialSave compares the platforms of a two-platform layout that
// holds one platform's layers only, as Docker 29 saves a multi-platform
// image (this machine's platform): BuildKit builds both, the arm64 layer
// is then removed. --all-platforms compares the platform present and names
// the missing one on stderr, in one line; with none present it is exit 2,
// naming them, and no temporary file.
func TestPartialSave(t *testing.T) {
	layout := buildkitLayout(t, "FROM scratch\nARG TARGETARCH\nCOPY file /$TARGETARCH\n", "--platform", "linux/amd64,linux/arm64", "--provenance", "false")
	stdout, stderr, code := imgcompare(t, "--all-platforms", "-o", "json", layout)
	if code != 0 || len(parseFormats(t, stdout).Images) != 2 {
		t.Fatalf("both platforms there: exit %d: %s\n%s", code, stderr, stdout)
	}
	// The arm64 image's layer, found through the index.
	layers := map[string]v1.Hash{}
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top v1.IndexManifest
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	var inner v1.IndexManifest
	b, err = os.ReadFile(blobPath(layout, top.Manifests[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &inner); err != nil {
		t.Fatal(err)
	}
	for _, d := range inner.Manifests {
		f, err := os.Open(blobPath(layout, d.Digest))
		if err != nil {
			t.Fatal(err)
		}
		m, err := v1.ParseManifest(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		layers[d.Platform.Architecture] = m.Layers[0].Digest
	}
	if layers["amd64"] == layers["arm64"] || layers["arm64"].Hex == "" {
		t.Fatalf("layers %v: want one per platform", layers)
	}
	if err := os.Remove(blobPath(layout, layers["arm64"])); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = imgcompare(t, "--all-platforms", "-o", "json", layout)
	doc := parseFormats(t, stdout)
	if code != 0 || len(doc.Images) != 1 || doc.Images[0].Architecture != "amd64" {
		t.Errorf("one platform there: exit %d: %s\n%s", code, stderr, stdout)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, "linux/arm64") || !strings.Contains(stderr, "not there") {
		t.Errorf("stderr should name linux/arm64 in one line: %q", stderr)
	}
	t.Logf("stderr: %s", strings.TrimSpace(stderr))
	if err := os.Remove(blobPath(layout, layers["amd64"])); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, []string{"linux/amd64, linux/arm64"}, "--all-platforms", layout)
	// From an archive: no temporary path in the message.
	archive := retar(t, layout)
	_, stderr, code = imgcompare(t, "--all-platforms", "oci-archive:"+archive)
	if code != 2 || strings.Contains(stderr, "imgcompare-oci-") {
		t.Errorf("oci-archive: exit %d, stderr %q: want 2, naming no temporary file", code, stderr)
	}
}

// TestAttestationByPosition picks, by position, the attestation manifest
// BuildKit writes beside an image into its layout, and by digest from a
// registry: each says it is an attestation, not an image.
func TestAttestationByPosition(t *testing.T) {
	layout := buildkitLayout(t, "FROM scratch\nCOPY file /file\n", "--provenance", "mode=min")
	mustRefuse(t, []string{`"@1" is an attestation manifest`, "not an image", "linux/amd64"}, layout+":@1")
	if _, stderr, code := imgcompare(t, layout+":@0"); code != 0 {
		t.Errorf("@0: exit %d: %s", code, stderr)
	}

	r := requireRegistries(t)
	ref := r.open + "/imgcompare-test/attested:1"
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "oci:"+layout+":latest", "docker://"+ref).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, out)
	}
	index, raw := registryManifest[v1.IndexManifest](t, ref)
	var att string
	for _, d := range index.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			att = d.Digest.String()
		}
	}
	if att == "" {
		t.Fatalf("no attestation in the pushed index: %s", raw)
	}
	repo := strings.TrimSuffix(ref, ":1")
	mustRefuse(t, []string{"is an attestation manifest", "not an image"}, "docker://"+repo+"@"+att)
}

// TestSkopeoDir reads skopeo's dir: transport: the figures of the OCI
// layout skopeo copied it from, and a tampered blob refused as there.
func TestSkopeoDir(t *testing.T) {
	layout := skopeoLayout(t, dockertest.Alpine, "a")
	dir := filepath.Join(t.TempDir(), "dir")
	if out, err := exec.Command("skopeo", "copy", "--quiet", "oci:"+layout+":a", "dir:"+dir).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to dir: %v\n%s", err, out)
	}
	stdout, stderr, code := imgcompare(t, "-o", "json", layout+":a", "dir:"+dir, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc := parseFormats(t, stdout)
	want := doc.Images[0]
	for _, got := range doc.Images[1:] {
		if got.Source != "dir" || got.Files != want.Files || got.Size.Uncompressed != want.Size.Uncompressed || got.Size.Compressed != want.Size.Compressed {
			t.Errorf("%s: %+v; from the layout: %+v", got.Name, got, want)
		}
	}
	_, m := layoutManifest(t, layout)
	b, err := os.ReadFile(filepath.Join(dir, m.Config.Digest.Hex))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m.Config.Digest.Hex), append(b, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, []string{"config " + m.Config.Digest.String(), "does not match its descriptor"}, "dir:"+dir)
}

// TestNotAnImageArchive gives imgcompare the tarball of a web app's build,
// whose manifest.json is a web app manifest: it says the tarball is not an
// image archive, and why.
func TestNotAnImageArchive(t *testing.T) {
	dir := t.TempDir()
	build := filepath.Join(dir, "build")
	if err := os.Mkdir(build, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"manifest.json": `{"short_name": "Alpacas", "name": "I love alpacas", "icons": [], "start_url": ".", "display": "standalone"}`,
		"index.html":    "<!doctype html><title>alpacas</title>\n",
	} {
		if err := os.WriteFile(filepath.Join(build, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archive := filepath.Join(dir, "build.tar")
	if out, err := exec.Command("tar", "-cf", archive, "-C", build, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	mustRefuse(t, []string{"not an image archive", "manifest.json"}, archive)
	if _, stderr, _ := imgcompare(t, archive); strings.Contains(stderr, "tarball.Manifest") {
		t.Errorf("the error speaks of go-containerregistry's types: %s", stderr)
	}
}
