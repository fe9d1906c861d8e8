package deploy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// composeProject is compose.yaml brought up by the real docker compose.
type composeProject struct {
	t       *testing.T
	name    string
	port    int
	env     []string // DOCKER_CONFIG pointing at the compose plugin
	files   []string
	service string
}

// composeUp builds Docker Compose from its module (scripts/tools.sh
// compose), installs it as a docker CLI plugin in a config directory of
// the test's own, and runs docker compose up -d --wait with compose.yaml
// and an override for this machine: no bridge network can be made here,
// so the service joins the host's network, publishes nothing (ports:
// !reset []) and listens on a free port; its health check, the image's
// own, runs every second rather than every 10 so the test is quick.
func composeUp(t *testing.T) *composeProject {
	t.Helper()
	dockertest.BuildImages(t)
	out, err := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "tools.sh"), "compose").Output()
	if err != nil {
		t.Fatalf("scripts/tools.sh compose: %v", err)
	}
	config := t.TempDir()
	if err := os.MkdirAll(filepath.Join(config, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.TrimSpace(string(out)), filepath.Join(config, "cli-plugins", "docker-compose")); err != nil {
		t.Fatal(err)
	}
	s := composeService(t)
	port := dockertest.FreePort(t)
	override := filepath.Join(t.TempDir(), "compose.test.yaml")
	body := fmt.Sprintf(`services:
  %s:
    network_mode: host
    ports: !reset []
    environment:
      PORT: "%d"
    healthcheck:
      interval: 1s
      start_period: 1s
`, s.Name, port)
	if err := os.WriteFile(override, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &composeProject{
		t:       t,
		name:    fmt.Sprintf("echo-app-test-%d", port),
		port:    port,
		env:     append(os.Environ(), "DOCKER_CONFIG="+config),
		files:   []string{filepath.Join(dockertest.RepoRoot(), "compose.yaml"), override},
		service: s.Name,
	}
	t.Cleanup(func() { p.run("down", "--timeout", "15") })
	if _, err := p.run("up", "--detach", "--wait", "--no-build"); err != nil {
		t.Fatalf("docker compose up: %v", err)
	}
	return p
}

// run runs docker compose with the project's files and returns its output.
func (p *composeProject) run(args ...string) (string, error) {
	full := []string{"compose", "--project-name", p.name}
	for _, f := range p.files {
		full = append(full, "--file", f)
	}
	cmd := exec.Command("docker", append(full, args...)...)
	cmd.Env = p.env
	cmd.Dir = dockertest.RepoRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v\n%s", strings.Join(full[1:], " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// container is the service's container ID.
func (p *composeProject) container() string {
	p.t.Helper()
	id, err := p.run("ps", "--quiet", p.service)
	if err != nil || id == "" {
		p.t.Fatalf("docker compose ps: %q %v", id, err)
	}
	return id
}

func (p *composeProject) get(path string) (int, string, error) {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(p.port) + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// TestComposeUp brings the service up with the real docker compose: it
// turns healthy through the image's own health check, serves /alpacas, and
// docker compose stop ends it within the grace period with exit status 0.
func TestComposeUp(t *testing.T) {
	p := composeUp(t)
	id := p.container()
	if health := dockertest.Docker(t, "inspect", "--format", "{{.State.Health.Status}}", id); health != "healthy" {
		t.Errorf("after up --wait the container is %q", health)
	}
	if code, body, err := p.get("/alpacas"); err != nil || code != 200 || body != "I love alpacas!\n" {
		t.Errorf("GET /alpacas: %d %q %v", code, body, err)
	}
	s := composeService(t)
	grace := time.Duration(*s.StopGracePeriod)
	began := time.Now()
	if _, err := p.run("stop"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if code := dockertest.Docker(t, "inspect", "--format", "{{.State.ExitCode}}", id); code != "0" || took >= grace {
		t.Errorf("docker compose stop: exit status %s after %v; want 0 within the %v grace period", code, took, grace)
	}
}

// TestComposeServiceSurvivesFlood floods the service, run by docker compose
// with compose.yaml's memory limit and GOMEMLIMIT, with 10,000 connections
// that each send one request and stay open, plus 2,000 that send nothing
// (bench/hammer flood): the container must stay up and not be OOM-killed,
// a live client must get every answer, peak RSS must stay under three
// quarters of the limit, and anonymous RSS must fall back at least halfway.
func TestComposeServiceSurvivesFlood(t *testing.T) {
	p := composeUp(t)
	id := p.container()
	limit, err := strconv.ParseInt(dockertest.Docker(t, "inspect", "--format", "{{.HostConfig.Memory}}", id), 10, 64)
	if err != nil || limit <= 0 {
		t.Fatalf("the container has no memory limit (%v): compose.yaml's deploy.resources.limits.memory was not applied", err)
	}
	hammer := filepath.Join(t.TempDir(), "hammer")
	build := exec.Command("go", "build", "-o", hammer, "./bench/hammer")
	build.Dir = dockertest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building bench/hammer: %v\n%s", err, out)
	}
	pid := dockertest.Docker(t, "inspect", "--format", "{{.State.Pid}}", id)
	out, err := exec.Command(hammer, "flood", "-addr", "127.0.0.1:"+strconv.Itoa(p.port), "-pid", pid,
		"-conns", "10000", "-silent", "2000", "-settle", "5s").CombinedOutput()
	t.Logf("hammer flood: %s", out)
	if err != nil {
		t.Fatalf("hammer flood: %v", err)
	}
	fields := map[string]string{}
	for _, kv := range strings.Fields(string(out)) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[k] = v
		}
	}
	number := func(k string) int64 {
		n, err := strconv.ParseInt(fields[k], 10, 64)
		if err != nil {
			t.Fatalf("hammer printed no %s: %s", k, out)
		}
		return n
	}
	if state := dockertest.Docker(t, "inspect", "--format", "{{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}}", id); state != "true false 0" {
		t.Fatalf("after the flood: running, OOM-killed, restarts = %s; want true false 0", state)
	}
	if n := number("live_failed"); n != 0 {
		t.Errorf("the live client failed %d requests during the flood", n)
	}
	if peak := number("rss_peak_kib") << 10; peak >= limit*3/4 {
		t.Errorf("peak RSS %d bytes, want under 3/4 of the %d-byte limit", peak, limit)
	}
	// What the server allocated is handed back; the pages of its binary
	// that the flood ran stay resident, as file-backed memory the kernel
	// may reclaim (1 to 2 MiB).
	before, peak, after := number("anon_before_kib")<<10, number("anon_peak_kib")<<10, number("anon_after_kib")<<10
	if after > before+(peak-before)/2 {
		t.Errorf("anonymous RSS %d bytes after the flood, from %d at its peak and %d before: want it back at least halfway", after, peak, before)
	}
	if number("evicted") < 10000 {
		t.Errorf("%s connections evicted, want at least the flood's 10,000 less the budget", fields["evicted"])
	}
	if code, _, err := p.get("/alpacas"); err != nil || code != 200 {
		t.Errorf("after the flood: %d %v", code, err)
	}
}
