package images

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// registries are the two registries scripts/registry.sh starts: an open
// one and one behind basic auth.
type registries struct {
	open, auth, user, password string
}

// requireRegistries finds the registries .ci/run started, by what
// scripts/registry.sh status reports: outside CI the test skips when none
// answers; in CI it fails.
func requireRegistries(t *testing.T) registries {
	t.Helper()
	env := dockertest.Settings(t, "registry", "the registries")
	return registries{env["REGISTRY"], env["AUTH_REGISTRY"], env["AUTH_USER"], env["AUTH_PASSWORD"]}
}

// push pushes a local image to a registry with the engine and returns the
// registry reference.
func push(t *testing.T, image, registry, repo string) string {
	t.Helper()
	ref := registry + "/" + repo
	dockertest.Docker(t, "tag", image, ref)
	t.Cleanup(func() { dockertest.DockerErr("rmi", ref) })
	dockertest.Docker(t, "push", "-q", ref)
	return ref
}

type compareDoc struct {
	Images []struct {
		Name         string
		Source       string
		Files        *int
		ManifestOnly bool `json:"manifest_only"`
		Size         struct {
			Uncompressed     *int64
			Compressed       int64
			CompressedSource string `json:"compressed_source"`
		}
		Architecture string
	}
}

func parseCompare(t *testing.T, stdout string) compareDoc {
	t.Helper()
	return parseJSON[compareDoc](t, stdout)
}

// parseJSON reads imgcompare's JSON report into a T.
func parseJSON[T any](t *testing.T, stdout string) T {
	t.Helper()
	var doc T
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	return doc
}

// registryManifest reads the manifest or index of ref in a registry on
// 127.0.0.1, as skopeo reads it, into a T.
func registryManifest[T any](t *testing.T, ref string) (T, []byte) {
	t.Helper()
	var m T
	raw, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+ref).Output()
	if err != nil {
		t.Fatalf("skopeo inspect %s: %v", ref, err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m, raw
}

// TestRegistrySource pushes the shipped image to a real registry and reads
// it back: the same files and size as from the engine, and as compressed
// size the blob sizes the registry's manifest lists, as skopeo reads them.
func TestRegistrySource(t *testing.T) {
	dockertest.BuildImages(t)
	r := requireRegistries(t)
	ref := push(t, dockertest.MultiStage, r.open, "echo_app_multistage:registry-test")

	stdout, stderr, code := imgcompare(t, "-o", "json", "docker-daemon:"+dockertest.MultiStage, "docker://"+ref)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc := parseCompare(t, stdout)
	engine, remote := doc.Images[0], doc.Images[1]
	if remote.Source != "docker" || *remote.Files != *engine.Files || *remote.Size.Uncompressed != *engine.Size.Uncompressed || remote.Size.CompressedSource != "stored" {
		t.Errorf("from the registry %+v; from the engine %+v", remote, engine)
	}

	// The manifest, as skopeo reads it: the compressed size is its blobs.
	manifest, _ := registryManifest[struct{ Layers []struct{ Size int64 } }](t, ref)
	var blobs int64
	for _, l := range manifest.Layers {
		blobs += l.Size
	}
	if remote.Size.Compressed != blobs {
		t.Errorf("compressed %d bytes, the manifest's blobs %d", remote.Size.Compressed, blobs)
	}

	// The manifest alone, for gating what was just pushed.
	bin := buildImgcompare(t)
	began := time.Now()
	out, err := exec.Command(bin, "--manifest-only", "--max-compressed-size", "3MB", "-o", "json", "docker://"+ref).Output()
	took := time.Since(began)
	if err != nil {
		t.Fatalf("--manifest-only: %v", err)
	}
	only := parseCompare(t, string(out)).Images[0]
	t.Logf("--manifest-only: %v, the process included", took)
	if !only.ManifestOnly || only.Size.Compressed != blobs || only.Size.Uncompressed != nil {
		t.Errorf("--manifest-only: %+v", only)
	}
	if _, _, code := imgcompare(t, "--manifest-only", "--max-compressed-size", "1MB", "docker://"+ref); code != 1 {
		t.Errorf("--manifest-only gate over budget: exit %d, want 1", code)
	}

	for _, c := range []struct{ arg, want string }{
		{"docker://" + r.open + "/nothere:1", "not found"},
		{"docker://127.0.0.1:1/x:1", "cannot reach 127.0.0.1:1"},
	} {
		stdout, stderr, code := imgcompare(t, c.arg)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and one line saying %q", c.arg, code, stderr, c.want)
		}
	}
}

// TestRegistryAuth reads from the registry behind basic auth: without
// credentials a one-line error; with a Docker config that docker login
// wrote, the image.
func TestRegistryAuth(t *testing.T) {
	dockertest.BuildImages(t)
	r := requireRegistries(t)
	config := t.TempDir()
	login := exec.Command("docker", "--config", config, "login", "--username", r.user, "--password-stdin", r.auth)
	login.Stdin = strings.NewReader(r.password)
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	ref := r.auth + "/echo_app_multistage:auth-test"
	dockertest.Docker(t, "tag", dockertest.MultiStage, ref)
	t.Cleanup(func() { dockertest.DockerErr("rmi", ref) })
	if out, err := exec.Command("docker", "--config", config, "push", "-q", ref).CombinedOutput(); err != nil {
		t.Fatalf("docker push: %v\n%s", err, out)
	}

	bin := buildImgcompare(t)
	run := func(dockerConfig string) (string, string, error) {
		cmd := exec.Command(bin, "docker://"+ref)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := run(t.TempDir())
	if err == nil || stdout != "" || !strings.Contains(stderr, "unauthorized") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("without credentials: %v, stderr %q", err, stderr)
	}
	if stdout, stderr, err := run(config); err != nil || !strings.Contains(stdout, ref) {
		t.Errorf("with docker login's credentials: %v\n%s", err, stderr)
	}
}

// TestRegistryAllPlatforms pushes a two-platform index with skopeo and
// compares its platforms side by side.
func TestRegistryAllPlatforms(t *testing.T) {
	r := requireRegistries(t)
	dir := it.TwoPlatforms(t, "multi")
	ref := r.open + "/multi:1"
	if out, err := exec.Command("skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "oci:"+dir+":multi", "docker://"+ref).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, out)
	}
	stdout, stderr, code := imgcompare(t, "--all-platforms", "-o", "json", "docker://"+ref)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc := parseCompare(t, stdout)
	var got []string
	for _, img := range doc.Images {
		got = append(got, img.Name+" "+img.Architecture)
	}
	want := "docker://" + ref + " [linux/amd64] amd64,docker://" + ref + " [linux/arm64] arm64"
	if strings.Join(got, ",") != want {
		t.Errorf("images %v, want %s", got, want)
	}
	stdout, _, code = imgcompare(t, "--platform", "linux/arm64", "-o", "json", "docker://"+ref)
	if code != 0 || parseCompare(t, stdout).Images[0].Architecture != "arm64" {
		t.Errorf("--platform linux/arm64: exit %d\n%s", code, stdout)
	}
}

// TestDiffProjectImages diffs the single-stage image against the
// multi-stage one, and two --no-cache builds of one commit: identical once
// the revision label is ignored.
func TestDiffProjectImages(t *testing.T) {
	dockertest.BuildImages(t)
	stdout, stderr, code := imgcompare(t, "diff", "-o", "json", dockertest.SingleStage, dockertest.MultiStage)
	if code != 1 {
		t.Fatalf("single- against multi-stage: exit %d, want 1: %s", code, stderr)
	}
	var doc struct {
		Identical bool
		Dirs      []struct {
			Dir     string
			Removed int
			Delta   int64 `json:"size_delta"`
		} `json:"directories"`
		Config []struct{ Field string }
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]int{}
	for _, d := range doc.Dirs {
		dirs[d.Dir] = d.Removed
	}
	if dirs["/usr"] == 0 || dirs["/bin"] == 0 {
		t.Errorf("the multi-stage build drops /usr (the toolchain) and /bin (the shell): %+v", doc.Dirs)
	}
	rebuilt := rebuild(t, "echo_app_multistage:diff", "--no-cache")
	stdout, stderr, code = imgcompare(t, "diff", "--ignore", "label:org.opencontainers.image.revision", rebuilt, "echo_app_multistage:diff")
	if code != 0 {
		t.Errorf("two --no-cache builds of one commit: exit %d, want 0 (identical)\n%s%s", code, stdout, stderr)
	}
}

// buildImgcompare builds the CLI once per test.
func buildImgcompare(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "imgcompare")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imgcompare")
	build.Dir = dockertest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
