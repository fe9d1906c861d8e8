package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// imgcompare builds the CLI and runs it, returning stdout, stderr and the
// exit status.
func imgcompare(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "imgcompare")
	build := exec.Command("go", "build", "-o", bin, "./cmd/imgcompare")
	build.Dir = dockertest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// TestImgcompareOnProjectImages analyses the images make images builds,
// in the local Docker engine: sizes agree with docker image inspect, and
// the CI gate passes for the multi-stage image and fails, rule by rule,
// for the single-stage one.
func TestImgcompareOnProjectImages(t *testing.T) {
	dockertest.BuildImages(t)
	images := []string{dockertest.SingleStage, dockertest.Alpine, dockertest.MultiStage}

	stdout, stderr, code := imgcompare(t, append([]string{"-o", "json"}, images...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Images []struct {
			Source string
			Size   struct{ Uncompressed, Compressed int64 }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 3 {
		t.Fatalf("JSON output: %v\n%s", err, stdout)
	}
	for i, img := range images {
		want := dockertest.ImageSize(t, img)
		got := doc.Images[i].Size.Uncompressed
		t.Logf("%s: uncompressed %d bytes (docker image inspect: %d), compressed %d bytes", img, got, want, doc.Images[i].Size.Compressed)
		if got != want {
			t.Errorf("%s: uncompressed size %d, docker image inspect says %d", img, got, want)
		}
		if doc.Images[i].Source != "docker" {
			t.Errorf("%s: source %q", img, doc.Images[i].Source)
		}
	}

	gate := []string{"--max-size", "6.5MB", "--max-compressed-size", "3MB", "--forbid", "shell,package-manager,toolchain,root,setuid,world-writable"}
	if _, stderr, code := imgcompare(t, append(gate, dockertest.MultiStage)...); code != 0 {
		t.Errorf("gate on %s: exit %d\n%s", dockertest.MultiStage, code, stderr)
	}
	if _, stderr, code := imgcompare(t, "--min-reduction", "98%", dockertest.SingleStage, dockertest.MultiStage); code != 0 {
		t.Errorf("--min-reduction 98%%: exit %d\n%s", code, stderr)
	}

	_, stderr, code = imgcompare(t, append(gate, dockertest.SingleStage)...)
	if code != 1 {
		t.Fatalf("gate on %s: exit %d, want 1\n%s", dockertest.SingleStage, code, stderr)
	}
	size := dockertest.ImageSize(t, dockertest.SingleStage)
	for _, want := range []string{
		"imgcompare: budget: echo_app: --max-size: uncompressed size ",
		"(" + strconv.FormatInt(size, 10) + " bytes) exceeds 6.50 MB (6500000 bytes)",
		"imgcompare: budget: echo_app: --max-compressed-size: compressed size ",
		"imgcompare: budget: echo_app: --forbid: shell: /bin/",
		"imgcompare: budget: echo_app: --forbid: toolchain: /usr/local/go/bin/go",
		"imgcompare: budget: echo_app: --forbid: root: runs as root (no user set)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("violations lack %q:\n%s", want, stderr)
		}
	}

	_, stderr, code = imgcompare(t, "echo_app_multistage:no-such-tag")
	if code != 2 || !strings.Contains(stderr, "echo_app_multistage:no-such-tag") {
		t.Errorf("missing image: exit %d, stderr %q; want 2 naming the image", code, stderr)
	}
}
