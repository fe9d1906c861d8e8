package images

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// rootImage is a small image of the engine that runs as root, made by
// scripts/base-images.sh.
const rootImage = "local/alpine:standin"

// skopeoLayout saves an image of the engine and copies it with skopeo
// into an OCI layout, as skopeo writes one (gzip layers), tagged tag.
func skopeoLayout(t *testing.T, image, tag string) string {
	t.Helper()
	dockertest.BuildImages(t)
	if _, err := exec.LookPath("skopeo"); err != nil {
		dockertest.Missing(t, "skopeo is not installed", "skopeo", "scripts/install-deps.sh")
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	dockertest.Docker(t, "save", "-o", saved, image)
	layout := filepath.Join(dir, "layout")
	if out, err := exec.Command("skopeo", "copy", "--quiet", "docker-archive:"+saved, "oci:"+layout+":"+tag).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	return layout
}

// blobPath is where a layout keeps the blob of digest h.
func blobPath(layout string, h v1.Hash) string {
	return filepath.Join(layout, "blobs", h.Algorithm, h.Hex)
}

// layoutManifest reads the manifest of a layout's only image.
func layoutManifest(t *testing.T, layout string) (*v1.IndexManifest, *v1.Manifest) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(blobPath(layout, index.Manifests[0].Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := v1.ParseManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	return index, m
}

// writeBlob stores content in a layout under its own digest.
func writeBlob(t *testing.T, layout string, content []byte) v1.Hash {
	t.Helper()
	sum := sha256.Sum256(content)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := os.WriteFile(blobPath(layout, h), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

func writeJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustRefuse runs imgcompare and wants exit 2 with every one of wants in
// its error.
func mustRefuse(t *testing.T, wants []string, args ...string) {
	t.Helper()
	stdout, stderr, code := imgcompare(t, args...)
	if code != 2 {
		t.Errorf("imgcompare %s: exit %d, want 2\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		return
	}
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("imgcompare %s: stderr lacks %q:\n%s", strings.Join(args, " "), want, stderr)
		}
	}
	t.Logf("imgcompare %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr))
}

// TestTamperedLayout changes, in OCI layouts skopeo wrote, one blob at a
// time under its old digest, or one descriptor's size: each is refused
// with exit 2, naming the blob, before its content is used, as skopeo
// refuses it.
func TestTamperedLayout(t *testing.T) {
	dockertest.BuildImages(t)
	t.Run("layer", func(t *testing.T) {
		// The same content in another gzip stream of the same length:
		// only the blob's digest tells.
		layout := skopeoLayout(t, dockertest.Alpine, "a")
		_, m := layoutManifest(t, layout)
		layer := m.Layers[len(m.Layers)-1].Digest
		b, err := os.ReadFile(blobPath(layout, layer))
		if err != nil {
			t.Fatal(err)
		}
		b[4] ^= 0xff // the gzip header's modification time
		if err := os.WriteFile(blobPath(layout, layer), b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+layout+":a").CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo reads the manifest: %v %s", err, out)
		}
		if out, err := exec.Command("skopeo", "copy", "--quiet", "oci:"+layout+":a", "oci:"+t.TempDir()+":a").CombinedOutput(); err == nil {
			t.Errorf("skopeo copied the tampered layout; it should refuse: %s", out)
		}
		mustRefuse(t, []string{"layer " + layer.String(), "its content is sha256:", "does not match its descriptor"}, layout+":a")
	})
	t.Run("layer recompressed", func(t *testing.T) {
		// Recompressed at another level, as the audit found it: the
		// diff_id still matches.
		layout := skopeoLayout(t, dockertest.Alpine, "a")
		_, m := layoutManifest(t, layout)
		d := m.Layers[len(m.Layers)-1]
		f, err := os.Open(blobPath(layout, d.Digest))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&again, gzip.NoCompression)
		if _, err := io.Copy(zw, zr); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		f.Close()
		if err := os.WriteFile(blobPath(layout, d.Digest), again.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, []string{d.Digest.String(), "does not match its descriptor"}, "-o", "json", layout+":a")
		mustRefuse(t, []string{d.Digest.String()}, "--manifest-only", layout+":a")
	})
	t.Run("config", func(t *testing.T) {
		// A root image's config made to say it runs as 65532: the gate
		// --forbid root must not be fooled.
		layout := skopeoLayout(t, rootImage, "root")
		if _, _, code := imgcompare(t, "--forbid", "root", layout+":root"); code != 1 {
			t.Fatalf("--forbid root on %s as it is: exit %d, want 1", rootImage, code)
		}
		_, m := layoutManifest(t, layout)
		var config map[string]any
		b, err := os.ReadFile(blobPath(layout, m.Config.Digest))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &config); err != nil {
			t.Fatal(err)
		}
		config["config"].(map[string]any)["User"] = "65532"
		writeJSON(t, blobPath(layout, m.Config.Digest), config)
		mustRefuse(t, []string{"config " + m.Config.Digest.String(), "does not match its descriptor"}, "--forbid", "root", layout+":root")
		mustRefuse(t, []string{"config " + m.Config.Digest.String()}, "--manifest-only", "--forbid", "root", layout+":root")
	})
	t.Run("manifest", func(t *testing.T) {
		layout := skopeoLayout(t, dockertest.Alpine, "a")
		index, _ := layoutManifest(t, layout)
		file := blobPath(layout, index.Manifests[0].Digest)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(b, ' '), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, []string{"manifest " + index.Manifests[0].Digest.String()}, "--manifest-only", layout+":a")
	})
	t.Run("descriptor size", func(t *testing.T) {
		// A manifest, stored under its own digest, whose layer size is
		// one byte more than the blob holds.
		layout := skopeoLayout(t, dockertest.Alpine, "a")
		index, m := layoutManifest(t, layout)
		m.Layers[0].Size++
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		index.Manifests[0].Digest, index.Manifests[0].Size = writeBlob(t, layout, b), int64(len(b))
		writeJSON(t, filepath.Join(layout, "index.json"), index)
		want := []string{m.Layers[0].Digest.String(), "its descriptor says " + strconv.FormatInt(m.Layers[0].Size, 10) + " bytes"}
		mustRefuse(t, want, "--manifest-only", layout+":a")
		mustRefuse(t, want, layout+":a")
	})
	t.Run("oci-archive", func(t *testing.T) {
		// The same check on an archive of the layout.
		layout := skopeoLayout(t, dockertest.Alpine, "a")
		_, m := layoutManifest(t, layout)
		var config map[string]any
		b, _ := os.ReadFile(blobPath(layout, m.Config.Digest))
		if err := json.Unmarshal(b, &config); err != nil {
			t.Fatal(err)
		}
		config["config"].(map[string]any)["User"] = ""
		writeJSON(t, blobPath(layout, m.Config.Digest), config)
		archive := filepath.Join(t.TempDir(), "oci.tar")
		if out, err := exec.Command("tar", "-cf", archive, "-C", layout, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
		mustRefuse(t, []string{"config " + m.Config.Digest.String()}, "oci-archive:"+archive)
	})
}

// buildkit builds a Dockerfile with BuildKit (scripts/buildkit.sh) to
// the exporter output names (type=docker, type=oci,tar=false…), and
// returns where it wrote. The context holds a file named file, of random
// text: BuildKit's cache, which knows files by content, holds none of it.
func buildkit(t *testing.T, dockerfile, output string, flags ...string) string {
	t.Helper()
	builder := dockertest.Settings(t, "buildkit", "BuildKit")["BUILDER"]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte(strings.Repeat(rand.Text(), 2000)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	args := append([]string{"buildx", "build", "--builder", builder, "--quiet", "--output", output + ",dest=" + out}, flags...)
	dockertest.Docker(t, append(args, dir)...)
	return out
}

// buildkitSave builds a docker save tarball as BuildKit's docker exporter
// writes it, the way Docker 25 and later save: an OCI layout, blobs named
// by their digests, and a manifest.json.
func buildkitSave(t *testing.T, dockerfile string) string {
	t.Helper()
	return buildkit(t, dockerfile, "type=docker", "--provenance", "false")
}

// untar extracts a tarball into a new directory.
func untar(t *testing.T, tarball string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", tarball, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v %s", err, out)
	}
	return dir
}

// retar makes a tarball of a directory.
func retar(t *testing.T, dir string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "retarred.tar")
	if out, err := exec.Command("tar", "-cf", file, "-C", dir, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar -c: %v %s", err, out)
	}
	return file
}

// TestTamperedDockerSave changes a docker save as Docker 25 and later
// write it (BuildKit's docker exporter writes the same): a config made to
// run as 65532 and a layer of other bytes, each under its old name, are
// refused with exit 2.
func TestTamperedDockerSave(t *testing.T) {
	saved := buildkitSave(t, "FROM scratch\nCOPY file /file\n")
	if _, stderr, code := imgcompare(t, "--forbid", "root", saved); code != 1 {
		t.Fatalf("--forbid root on a root image: exit %d, want 1: %s", code, stderr)
	}
	manifest := saveManifest(t, untar(t, saved))
	if !strings.HasPrefix(manifest[0].Config, "blobs/sha256/") {
		t.Fatalf("the save names its config %s, not by its digest as Docker 25 and later do", manifest[0].Config)
	}

	t.Run("config", func(t *testing.T) {
		tree := untar(t, saved)
		var config map[string]any
		file := filepath.Join(tree, manifest[0].Config)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &config); err != nil {
			t.Fatal(err)
		}
		config["config"].(map[string]any)["User"] = "65532"
		os.Chmod(file, 0o644)
		writeJSON(t, file, config)
		mustRefuse(t, []string{"config " + manifest[0].Config, "its content is sha256:", "does not match its descriptor"}, "--forbid", "root", retar(t, tree))
	})
	t.Run("layer", func(t *testing.T) {
		tree := untar(t, saved)
		file := filepath.Join(tree, manifest[0].Layers[0])
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b[4] ^= 0xff // the gzip header's modification time
		os.Chmod(file, 0o644)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mustRefuse(t, []string{"layer 1 of 1, " + manifest[0].Layers[0], "its content is sha256:"}, retar(t, tree))
	})
}

// TestBlobListedTwice builds with BuildKit an image whose third layer is
// its first again (COPY file, COPY another over it, COPY file): the
// manifest lists one blob twice. Its compressed size counts that blob once,
// as the registry stores it and a pull downloads it, from the save and
// from a registry; its uncompressed size counts it twice, as the Docker
// engine does.
func TestBlobListedTwice(t *testing.T) {
	dockertest.BuildImages(t)
	r := requireRegistries(t)
	saved := buildkitSave(t, "FROM scratch\nCOPY file /file\nCOPY Dockerfile /file\nCOPY file /file\n")
	tree := untar(t, saved)
	manifest := saveManifest(t, tree)
	layers := manifest[0].Layers
	if len(layers) != 3 || layers[0] != layers[2] || layers[0] == layers[1] {
		t.Fatalf("BuildKit's layers: %v, want the first listed again third", layers)
	}
	var once, twice int64
	for i, l := range layers {
		info, err := os.Stat(filepath.Join(tree, l))
		if err != nil {
			t.Fatal(err)
		}
		twice += info.Size()
		if i < 2 {
			once += info.Size()
		}
	}
	t.Logf("the save's blobs: %d bytes listed, %d once each (+%.1f%% counted twice)", twice, once, 100*float64(twice-once)/float64(once))

	const tag = "imgcompare-test/same-blob:latest"
	dockertest.Docker(t, "load", "-q", "-i", saved)
	dockertest.Docker(t, "tag", "sha256:"+strings.TrimPrefix(filepath.Base(saveManifest(t, tree)[0].Config), "sha256:"), tag)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	inspect, err := strconv.ParseInt(strings.TrimSpace(dockertest.Docker(t, "image", "inspect", "-f", "{{.Size}}", tag)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	ref := r.open + "/imgcompare-test/same-blob:1"
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "docker-archive:"+saved, "docker://"+ref).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	stdout, stderr, code := imgcompare(t, "-o", "json", saved, "docker://"+ref)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Images []struct {
			Name string
			Size struct {
				Uncompressed, Compressed int64
			}
			Layers []struct {
				SameBlobAs int `json:"same_blob_as"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	// The registry's manifest, as skopeo reads it: its blobs once each.
	pushed, raw := registryManifest[v1.Manifest](t, ref)
	if len(pushed.Layers) != 3 || pushed.Layers[0].Digest != pushed.Layers[2].Digest {
		t.Fatalf("the registry's manifest: %s", raw)
	}
	for i, want := range []int64{once, pushed.Layers[0].Size + pushed.Layers[1].Size} {
		img := doc.Images[i]
		if img.Size.Compressed != want || img.Size.Uncompressed != inspect || len(img.Layers) != 3 || img.Layers[2].SameBlobAs != 1 || img.Layers[1].SameBlobAs != 0 {
			t.Errorf("%s: %+v; want compressed %d (each blob once), uncompressed %d (docker image inspect), layer 3 the blob of layer 1", img.Name, img, want, inspect)
		}
	}
	text, _, _ := imgcompare(t, saved)
	if !strings.Contains(text, "Same blob (layer 3 is 1)") {
		t.Errorf("the report does not say which blob is counted once:\n%s", text)
	}
	// The gate counts the same figure.
	if _, stderr, code := imgcompare(t, "--max-compressed-size", strconv.FormatInt(once, 10)+"B", saved); code != 0 {
		t.Errorf("--max-compressed-size %dB: exit %d: %s", once, code, stderr)
	}
}

// saveManifest reads the manifest.json of an extracted save.
func saveManifest(t *testing.T, tree string) tarball.Manifest {
	t.Helper()
	var manifest tarball.Manifest
	b, err := os.ReadFile(filepath.Join(tree, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil || len(manifest) == 0 {
		t.Fatalf("manifest.json: %v: %s", err, b)
	}
	return manifest
}
