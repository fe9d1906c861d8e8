// Package dockertest gives tests a Docker engine and the project's images.
// A test that needs them calls Require: outside CI it skips, with a
// message, when no engine answers; in CI (CI=true) it fails, because
// .ci/run starts one.
package dockertest

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The images that scripts/build-images.sh builds.
const (
	SingleStage = "echo_app"
	MultiStage  = "echo_app_multistage"
	Alpine      = "echo_app_multistage:alpine"
)

// Require skips or fails the test when no Docker engine answers.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		missing(t, "the docker command is not installed")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("no Docker engine answers (%v: %s)", err, bytes.TrimSpace(out)))
	}
}

func missing(t testing.TB, why string) {
	t.Helper()
	Missing(t, why, "the engine", "scripts/docker-engine.sh start")
}

// Missing stops a test whose prerequisite is missing: under -short (make
// test-unit), which runs no integration test, it skips; in CI (CI=true),
// where .ci/run provides it, the test fails; elsewhere it skips, saying
// what to run.
func Missing(t testing.TB, why, what, run string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("an integration test (%s): make test runs it", why)
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: in CI %s is required (.ci/run provides it: %s)", why, what, run)
	}
	t.Skipf("SKIPPED: %s; run %s", why, run)
}

// Settings asks a daemon's script (scripts/NAME.sh status) whether it
// answers, and returns the settings it reports (KEY=value lines). When it
// does not answer, the test stops as Missing says, naming what as the
// prerequisite.
func Settings(t testing.TB, name, what string) map[string]string {
	t.Helper()
	script := filepath.Join(RepoRoot(), "scripts", name+".sh")
	out, err := exec.Command(script, "status").Output()
	if err != nil {
		Missing(t, fmt.Sprintf("scripts/%s.sh status: nothing answers (%v)", name, err), what, "scripts/"+name+".sh start")
	}
	b, err := os.ReadFile(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("scripts/%s.sh status printed %q: %v", name, out, err)
	}
	settings := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			settings[k] = v
		}
	}
	return settings
}

// RepoRoot is the root of the repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	buildOnce sync.Once
	buildErr  error
	baseArgs  map[string]string
)

// BuildImages builds the project's three images once per test binary and
// returns the base images used, by build argument (GO_IMAGE,
// ALPINE_IMAGE).
func BuildImages(t testing.TB) map[string]string {
	t.Helper()
	Require(t)
	buildOnce.Do(func() {
		cmd := exec.Command(filepath.Join(RepoRoot(), "scripts", "build-images.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			buildErr = fmt.Errorf("scripts/build-images.sh: %v\n%s", err, stderr.String())
			return
		}
		baseArgs = map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				baseArgs[k] = v
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return baseArgs
}

// Docker runs the docker command and returns its trimmed standard output,
// failing the test with its standard error when it fails.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := DockerErr(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// DockerErr runs the docker command and returns its trimmed standard
// output, or an error that holds its standard error.
func DockerErr(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Dir = RepoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// FreePort returns a loopback port that nothing listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ImageSize is the Size of an image as docker image inspect reports it.
func ImageSize(t testing.TB, image string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(Docker(t, "image", "inspect", "--format", "{{.Size}}", image), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// WaitHealthy waits until Docker reports the container healthy, and fails
// the test with its health log and output when that takes over 30 seconds.
func WaitHealthy(t testing.TB, container string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status := Docker(t, "inspect", "--format", "{{.State.Health.Status}}", container)
		if status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			health, _ := DockerErr("inspect", "--format", "{{json .State.Health}}", container)
			logs, _ := DockerErr("logs", container)
			t.Fatalf("%s: health %q after 30s\nhealth: %s\nlogs: %s", container, status, health, logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Main runs an integration package's tests from its TestMain, or none
// under -short (make test-unit): every test there drives a Docker engine
// or other daemons.
func Main(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipped under -short: integration tests (make test runs them)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}
