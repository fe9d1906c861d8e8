// Package images tests the Docker images built from Dockerfile and
// Dockerfile.single-stage against a real engine: they serve, the shipped
// one is small, hardened, healthy, reproducible and builds for arm64.
package images

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/source"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// runContainer starts image in the background on the host network with
// PORT set to a free port and returns the container name and the port.
func runContainer(t *testing.T, image string, flags ...string) (string, int) {
	t.Helper()
	port := dockertest.FreePort(t)
	container := fmt.Sprintf("echo-app-test-%d", port)
	args := append([]string{"run", "-d", "--name", container, "--network", "host", "-e", "PORT=" + strconv.Itoa(port)}, flags...)
	dockertest.Docker(t, append(args, image)...)
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", container) })
	return container, port
}

// greeting polls GET /alpacas until it answers or 15 seconds pass.
func greeting(t *testing.T, port int) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/alpacas", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestImagesServe(t *testing.T) {
	dockertest.BuildImages(t)
	for _, image := range []string{dockertest.SingleStage, dockertest.MultiStage, dockertest.Alpine} {
		t.Run(image, func(t *testing.T) {
			_, port := runContainer(t, image)
			if got := greeting(t, port); got != "I love alpacas!\n" {
				t.Errorf("GET /alpacas = %q", got)
			}
		})
	}
}

// TestHardenedRun runs the shipped image the strictest way Docker allows
// and checks that it serves, that its own health check turns it healthy,
// and that docker stop ends it cleanly through SIGTERM to PID 1.
func TestHardenedRun(t *testing.T) {
	dockertest.BuildImages(t)
	if user := dockertest.Docker(t, "image", "inspect", "--format", "{{.Config.User}}", dockertest.MultiStage); user != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", user)
	}
	container, port := runContainer(t, dockertest.MultiStage,
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--health-interval", "1s", "--health-start-period", "1s")
	if got := greeting(t, port); got != "I love alpacas!\n" {
		t.Errorf("GET /alpacas = %q", got)
	}

	dockertest.WaitHealthy(t, container)

	began := time.Now()
	dockertest.Docker(t, "stop", "--time", "10", container)
	took := time.Since(began)
	code := dockertest.Docker(t, "inspect", "--format", "{{.State.ExitCode}}", container)
	t.Logf("docker stop took %v, exit status %s", took.Round(time.Millisecond), code)
	if code != "0" {
		t.Errorf("exit status after docker stop = %s, want 0\n%s", code, dockertest.Docker(t, "logs", container))
	}
	if took > 5*time.Second {
		t.Errorf("docker stop took %v, want well under the 10s stop timeout", took)
	}
}

func TestSizes(t *testing.T) {
	dockertest.BuildImages(t)
	single := dockertest.ImageSize(t, dockertest.SingleStage)
	multi := dockertest.ImageSize(t, dockertest.MultiStage)
	alpine := dockertest.ImageSize(t, dockertest.Alpine)
	reduction := 100 * (1 - float64(multi)/float64(single))
	t.Logf("single-stage %d bytes, multi-stage %d bytes (%.2f%% smaller), alpine target %d bytes", single, multi, reduction, alpine)
	if multi > 6_500_000 {
		t.Errorf("multi-stage image is %d bytes, want at most 6.5 MB", multi)
	}
	if reduction < 98 {
		t.Errorf("multi-stage image is %.2f%% smaller than the single-stage one, want at least 98%%", reduction)
	}
}

// analyse reads a local image with imgcompare's analysis.
func analyse(t *testing.T, image string) *analysis.Image {
	t.Helper()
	opened, err := source.Open(context.Background(), "docker-daemon:"+image, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	a, err := analysis.Analyze(context.Background(), opened.Image, analysis.Options{Largest: 10, Compression: analysis.Computed})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestShippedImageHoldsOnlyTheBinary reads the shipped image's filesystem:
// the one binary, no shell, package manager, toolchain, setuid or
// world-writable file, and a non-root user.
func TestShippedImageHoldsOnlyTheBinary(t *testing.T) {
	dockertest.BuildImages(t)
	a := analyse(t, dockertest.MultiStage)
	if a.Files != 1 || len(a.Largest) != 1 || a.Largest[0].Path != "/echo_app" {
		t.Errorf("files = %d %v, want only /echo_app", a.Files, a.Largest)
	}
	for _, f := range a.Findings {
		t.Errorf("%s: %s %s", f.Kind, f.Path, f.Detail)
	}
	if a.Root {
		t.Errorf("runs as root (user %q)", a.User)
	}
}

// TestFilesystemCheckFinds keeps the check above honest: on the alpine
// target, which has a shell, it must find one.
func TestFilesystemCheckFinds(t *testing.T) {
	dockertest.BuildImages(t)
	if a := analyse(t, dockertest.Alpine); !a.Has(analysis.Shell) {
		t.Errorf("no shell found in %s: findings %v", dockertest.Alpine, a.Findings)
	}
}

// extractBinary copies /echo_app (or another path) out of an image.
func extractBinary(t *testing.T, image, file string) string {
	t.Helper()
	container := dockertest.Docker(t, "create", image)
	defer dockertest.DockerErr("rm", container)
	dst := filepath.Join(t.TempDir(), path.Base(file))
	dockertest.Docker(t, "cp", container+":"+file, dst)
	return dst
}

func sha256File(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// rebuild builds the multi-stage image again with the build arguments of
// the built one, so only the flags given differ. It returns the ID of the
// image it copied the arguments from: the tag may move meanwhile, when
// another test package builds the images from a changed work tree.
func rebuild(t *testing.T, tag string, flags ...string) string {
	t.Helper()
	base := dockertest.BuildImages(t)
	original := dockertest.Docker(t, "image", "inspect", "--format", "{{.Id}}", dockertest.MultiStage)
	label := func(key string) string {
		return dockertest.Docker(t, "image", "inspect", "--format", `{{index .Config.Labels "`+key+`"}}`, original)
	}
	args := []string{"build", "-q", "--network", "none",
		"--build-arg", "GO_IMAGE=" + base["GO_IMAGE"], "--build-arg", "ALPINE_IMAGE=" + base["ALPINE_IMAGE"],
		"--build-arg", "VERSION=" + label("org.opencontainers.image.version"),
		"--build-arg", "REVISION=" + label("org.opencontainers.image.revision"),
		"-t", tag}
	dockertest.Docker(t, append(append(args, flags...), ".")...)
	t.Cleanup(func() { dockertest.DockerErr("rmi", tag) })
	return original
}

func TestReproducibleBinary(t *testing.T) {
	original := rebuild(t, "echo_app_multistage:repro", "--no-cache")
	first := sha256File(t, extractBinary(t, original, "/echo_app"))
	second := sha256File(t, extractBinary(t, "echo_app_multistage:repro", "/echo_app"))
	t.Logf("sha256 of /echo_app: %s and %s", first, second)
	if first != second {
		t.Errorf("two builds of the same commit differ: %s != %s", first, second)
	}
}

// TestArm64 builds for arm64 with `docker build --platform` on the engine's
// own BuildKit: the image is labelled arm64 (the classic builder labelled
// it amd64) and its binary serves under qemu.
func TestArm64(t *testing.T) {
	rebuild(t, "echo_app_multistage:arm64", "--platform", "linux/arm64")
	if arch := dockertest.Docker(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "echo_app_multistage:arm64"); arch != "linux/arm64" {
		t.Errorf("the arm64 image is labelled %s", arch)
	}
	bin := extractBinary(t, "echo_app_multistage:arm64", "/echo_app")
	if machine := elfMachine(t, bin); machine != elf.EM_AARCH64 {
		t.Fatalf("binary is for %v, want EM_AARCH64", machine)
	}
	qemu := underQemu(t, "qemu-aarch64-static", bin)
	if out, err := exec.Command(qemu, bin, "-version").Output(); err != nil || !strings.Contains(string(out), "linux/arm64") {
		t.Errorf("arm64 -version = %q, %v", out, err)
	}
}

func elfMachine(t *testing.T, bin string) elf.Machine {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.Machine
}

// underQemu runs a foreign binary under a qemu user-mode emulator, checks
// that it answers GET /alpacas, and returns the emulator's path.
func underQemu(t *testing.T, emulator, bin string) string {
	t.Helper()
	qemu, err := exec.LookPath(emulator)
	if err != nil {
		dockertest.Missing(t, emulator+" is not installed", "qemu-user-static", "scripts/install-deps.sh")
	}
	port := dockertest.FreePort(t)
	cmd := exec.Command(qemu, bin, "-listen", "127.0.0.1:"+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if got := greeting(t, port); got != "I love alpacas!\n" {
		t.Errorf("under %s: GET /alpacas = %q", emulator, got)
	}
	return qemu
}
