package images

// The GitHub Action (action.yml), run for real: nektos/act, built from its
// module by scripts/tools.sh, runs pull-request workflows that use it on
// this machine (the self-hosted platform, no runner image), against a
// stand-in for GitHub's REST API and release downloads on 127.0.0.1.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

const (
	token      = "test-token-5f1c9a"
	prWorkflow = "test/images/testdata/action-pr.yml"
)

type comment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
}

// github stands in for the parts of GitHub the action calls: an issue's
// comments (list, create, update) and release downloads from dir.
type github struct {
	mu       sync.Mutex
	comments []comment
	calls    []string // "METHOD /path"
	token    string   // the token it accepts
	releases string
}

var (
	listPath   = regexp.MustCompile(`^/repos/acme/app/issues/7/comments$`)
	updatePath = regexp.MustCompile(`^/repos/acme/app/issues/comments/([0-9]+)$`)
)

func (g *github) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rel, ok := strings.CutPrefix(r.URL.Path, "/releases/"); ok {
		http.ServeFile(w, r, filepath.Join(g.releases, filepath.FromSlash(rel)))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+g.token {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"Resource not accessible by integration"}`)
		return
	}
	switch {
	case r.Method == http.MethodGet && listPath.MatchString(r.URL.Path):
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, per = max(page, 1), min(max(per, 1), 100)
		from, to := min((page-1)*per, len(g.comments)), min(page*per, len(g.comments))
		json.NewEncoder(w).Encode(g.comments[from:to])
	case r.Method == http.MethodPost && listPath.MatchString(r.URL.Path):
		var c comment
		json.NewDecoder(r.Body).Decode(&c)
		c.ID = int64(1000 + len(g.comments))
		g.comments = append(g.comments, c)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(c)
	case r.Method == http.MethodPatch && updatePath.MatchString(r.URL.Path):
		id, _ := strconv.ParseInt(updatePath.FindStringSubmatch(r.URL.Path)[1], 10, 64)
		var c comment
		json.NewDecoder(r.Body).Decode(&c)
		for i := range g.comments {
			if g.comments[i].ID == id {
				g.comments[i].Body = c.Body
				json.NewEncoder(w).Encode(g.comments[i])
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not Found"}`)
	}
}

// marked are the comments of the action's key.
func (g *github) marked(key string) []comment {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []comment
	for _, c := range g.comments {
		if strings.HasPrefix(c.Body, "<!-- imgcompare: "+key+" -->") {
			out = append(out, c)
		}
	}
	return out
}

func (g *github) takeCalls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.calls
	g.calls = nil
	return c
}

type run struct {
	log     string
	failed  bool
	outputs map[string]string
	summary string // the path of the summary the action wrote
}

// act runs a workflow of the repository on a pull request of acme/app,
// with env and vars, and returns its log, whether the job failed, and the
// outputs a step wrote to $RESULT_DIR/outputs.json.
func act(t *testing.T, actBin, workflow, apiURL string, env, vars map[string]string) run {
	t.Helper()
	root := dockertest.RepoRoot()
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(`{"number":7,"pull_request":{"number":7,"head":{"ref":"feature","repo":{"fork":false}},"base":{"ref":"main"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"pull_request", "-W", workflow, "-e", event,
		"-P", "ubuntu-latest=-self-hosted", "-P", "ubuntu-24.04=-self-hosted", "-s", "GITHUB_TOKEN=" + token,
		"--env", "GITHUB_REPOSITORY=acme/app", "--env", "GITHUB_API_URL=" + apiURL, "--env", "RESULT_DIR=" + dir}
	for k, v := range env {
		args = append(args, "--env", k+"="+v)
	}
	for k, v := range vars {
		args = append(args, "--var", k+"="+v)
	}
	cmd := exec.Command(actBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "RUNNER_TEMP="+filepath.Join(dir, "runner-temp"))
	out, err := cmd.CombinedOutput()
	r := run{log: string(out), failed: err != nil}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("act: %v", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "outputs.json")); err == nil {
		json.Unmarshal(b, &r.outputs)
	}
	r.summary = filepath.Join(dir, "summary.md")
	return r
}

// actBinary is act, built by scripts/tools.sh, with what the action
// needs on the runner.
func actBinary(t *testing.T) string {
	t.Helper()
	dockertest.Require(t) // act talks to the engine even for the self-hosted platform
	out, err := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "tools.sh"), "act").Output()
	if err != nil {
		dockertest.Missing(t, "act could not be built: "+err.Error(), "act", "scripts/tools.sh act")
	}
	for _, tool := range []string{"jq", "curl", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			dockertest.Missing(t, tool+" is not installed", tool, "scripts/install-deps.sh")
		}
	}
	return strings.TrimSpace(string(out))
}

// startGitHub serves a stand-in for GitHub on 127.0.0.1 until the test
// ends, and returns it and its URL.
func startGitHub(t *testing.T) (*github, string) {
	t.Helper()
	gh := &github{token: token}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gh}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return gh, "http://" + ln.Addr().String()
}

func writeImage(t *testing.T, dir, file string, img v1.Image) string {
	t.Helper()
	path := filepath.Join(dir, file)
	ref, err := name.NewTag("example.com/" + strings.TrimSuffix(file, ".tar") + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAction runs the action in a pull-request workflow with act: the
// first run comments and sets the outputs, the second, with a rule broken,
// fails the job and updates that comment in place (found on the second
// page of the pull request's comments), a report longer than a comment
// holds is cut with a link to the summary, a release is installed only
// when it matches its SHA256SUMS, and a token that may not comment gets a
// warning, not a failed gate.
func TestAction(t *testing.T) {
	bin := actBinary(t)
	dir := t.TempDir()
	baseline := writeImage(t, dir, "alpine.tar", it.Alpine(t))
	pr := writeImage(t, dir, "app.tar", it.Scratch(t))
	gh, apiURL := startGitHub(t)
	gh.releases = filepath.Join(dir, "releases")
	for i := range 120 { // the action's comment will be on the second page
		gh.comments = append(gh.comments, comment{int64(i + 1), fmt.Sprintf("review comment %d", i)})
	}

	env := map[string]string{"BASELINE": baseline, "IMAGES": pr, "MAX_SIZE": "1MB"}
	first := act(t, bin, prWorkflow, apiURL, env, nil)
	if first.failed {
		t.Fatalf("first run failed:\n%s", first.log)
	}
	marked := gh.marked("size")
	if len(marked) != 1 || !strings.Contains(marked[0].Body, "All rules kept.") || !strings.Contains(marked[0].Body, "What changed from") {
		t.Fatalf("after the first run, the action's comments: %+v\n%s", marked, first.log)
	}
	if calls := gh.takeCalls(); strings.Join(calls, ",") != strings.Join([]string{
		"GET /repos/acme/app/issues/7/comments", "GET /repos/acme/app/issues/7/comments",
		"POST /repos/acme/app/issues/7/comments"}, ",") {
		t.Errorf("first run's API calls: %q", calls)
	}
	want := map[string]string{"size": "300000", "efficiency": "1", "wasted-bytes": "0", "violations": "0"}
	for k, v := range want {
		if first.outputs[k] != v {
			t.Errorf("output %s = %q, want %q (all: %v)", k, first.outputs[k], v, first.outputs)
		}
	}
	if r, err := strconv.ParseFloat(first.outputs["reduction"], 64); err != nil || r < 65 || r > 66 {
		t.Errorf("output reduction = %q, want 65.9 (300,000 B against 880,007 B)", first.outputs["reduction"])
	}
	if !strings.HasSuffix(first.outputs["report"], "report.md") || !strings.Contains(first.log, "Summary - <!-- imgcompare: size -->") {
		t.Errorf("no report path or summary: outputs %v\n%s", first.outputs, first.log)
	}
	if !strings.Contains(first.log, "built from") {
		t.Errorf("without a version, imgcompare should be built from the action's source:\n%s", first.log)
	}

	// A rule broken: the job fails, the comment is updated in place.
	env["MAX_SIZE"] = "100kB"
	second := act(t, bin, prWorkflow, apiURL, env, nil)
	if !second.failed || !strings.Contains(second.log, "--max-size: uncompressed size 300 kB (300000 bytes) exceeds 100 kB (100000 bytes)") {
		t.Errorf("second run: failed %v\n%s", second.failed, second.log)
	}
	if m := gh.marked("size"); len(m) != 1 || m[0].ID != marked[0].ID || !strings.Contains(m[0].Body, "1 rule(s) broken") {
		t.Errorf("after the second run, the action's comments: %+v", m)
	}
	if calls := gh.takeCalls(); len(calls) != 3 || calls[2] != fmt.Sprintf("PATCH /repos/acme/app/issues/comments/%d", marked[0].ID) {
		t.Errorf("second run's API calls: %q", calls)
	}
	if second.outputs["violations"] != "1" {
		t.Errorf("second run's outputs: %v", second.outputs)
	}

	// A diff longer than a comment holds: cut at a line, with a link.
	var entries []it.Entry
	for i := range 30 {
		long := strings.Repeat(fmt.Sprintf("directory-%02d-", i), 300) // 3,900 bytes: within PATH_MAX
		entries = append(entries, it.File("data/"+long+"/é-file", 1000+int64(i)))
	}
	huge := writeImage(t, dir, "huge.tar", it.Image(t, v1.Config{User: "65532"}, it.By("COPY data /data", it.Layer(t, entries...))))
	env["IMAGES"], env["MAX_SIZE"] = huge, "1MB"
	third := act(t, bin, prWorkflow, apiURL, env, nil)
	if third.failed {
		t.Fatalf("third run failed:\n%s", third.log)
	}
	body := gh.marked("size")[0].Body
	if n := utf8.RuneCountInString(body); n > 65536 || n < 60000 || !strings.Contains(body, "longer than a comment holds") || !strings.Contains(body, "/actions/runs/") {
		t.Errorf("a long report's comment: %d characters, ends %q", n, body[max(0, len(body)-300):])
	}
	gh.takeCalls()

	// Seventeen diffs, longer than a job summary holds: cut at a line within 1 MiB,
	// whole characters, with a note (the summary is also summary.md beside
	// the report).
	env["IMAGES"] = strings.TrimSpace(strings.Repeat(huge+" ", 17))
	seventeen := act(t, bin, prWorkflow, apiURL, env, nil)
	if seventeen.failed {
		t.Fatalf("the run with seventeen diffs failed:\n%s", seventeen.log)
	}
	summary, err := os.ReadFile(seventeen.summary)
	if err != nil {
		t.Fatal(err)
	}
	if len(summary) > 1<<20 || len(summary) < 1<<20-8192 || !utf8.Valid(summary) ||
		!strings.HasSuffix(string(summary), "longer than a job summary holds (1 MiB): the whole of it is the action's output report.\n") {
		t.Errorf("a long report's summary: %d bytes, valid UTF-8 %v, ends %q", len(summary), utf8.Valid(summary), summary[max(0, len(summary)-200):])
	}
	gh.takeCalls()

	// A release: installed when it matches SHA256SUMS, refused when not.
	const version = "v0.0.0-act"
	rel := filepath.Join(gh.releases, version)
	asset := "imgcompare-" + version + "-linux-amd64"
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", filepath.Join(rel, asset), "./cmd/imgcompare")
	build.Dir = dockertest.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(rel, asset))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sums := filepath.Join(rel, "SHA256SUMS")
	writeSums := func(digest string) {
		if err := os.WriteFile(sums, []byte(digest+"  "+asset+"\n"+digest+"  imgcompare-"+version+"-darwin-arm64\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeSums(hex.EncodeToString(sum[:]))
	env["IMAGES"], env["VERSION"], env["DOWNLOAD_URL"] = pr, version, apiURL+"/releases"
	fourth := act(t, bin, prWorkflow, apiURL, env, nil)
	if fourth.failed || !strings.Contains(fourth.log, "installed (release "+version+", "+asset) || !strings.Contains(fourth.log, "imgcompare "+version) {
		t.Errorf("from a release: failed %v\n%s", fourth.failed, fourth.log)
	}
	sum[0] ^= 1
	writeSums(hex.EncodeToString(sum[:]))
	fifth := act(t, bin, prWorkflow, apiURL, env, nil)
	if !fifth.failed || !strings.Contains(fifth.log, "but SHA256SUMS of "+version+" says "+hex.EncodeToString(sum[:])) {
		t.Errorf("a release that does not match its sum: failed %v\n%s", fifth.failed, fifth.log)
	}
	gh.takeCalls()

	// A token that may not comment, as a fork's: a warning; the gates decide.
	delete(env, "VERSION")
	delete(env, "DOWNLOAD_URL")
	gh.mu.Lock()
	gh.token = "another"
	gh.mu.Unlock()
	sixth := act(t, bin, prWorkflow, apiURL, env, nil)
	if sixth.failed || !strings.Contains(sixth.log, "the pull request comment failed (HTTP 403 Resource not accessible by integration)") {
		t.Errorf("with a read-only token: failed %v\n%s", sixth.failed, sixth.log)
	}
}

// TestImageSizeWorkflow runs the repository's own pull-request workflow,
// .github/workflows/image-size.yml, as it is, with act: it builds the
// checkout's image in the engine, compares it with the latest release in
// the registry (here the local one, holding the engine's
// echo_app_multistage as latest) through the action, and comments.
func TestImageSizeWorkflow(t *testing.T) {
	bin := actBinary(t)
	base := dockertest.BuildImages(t)
	reg := requireRegistries(t)
	push(t, dockertest.MultiStage, reg.open, "action-test/echo_app_multistage:latest")
	t.Cleanup(func() { dockertest.DockerErr("rmi", "echo_app_multistage:pr-7") })
	gh, apiURL := startGitHub(t)
	r := act(t, bin, ".github/workflows/image-size.yml", apiURL, nil, map[string]string{
		"GO_IMAGE": base["GO_IMAGE"], "ALPINE_IMAGE": base["ALPINE_IMAGE"], "REGISTRY": reg.open + "/action-test",
	})
	if r.failed {
		t.Fatalf("the workflow failed:\n%s", r.log)
	}
	for _, want := range []string{
		"Success - Main Build the pull request's image",
		"imgcompare: installed (built from",
		"imgcompare: commented on pull request 7",
		"Summary - <!-- imgcompare: imgcompare -->",
	} {
		if !strings.Contains(r.log, want) {
			t.Errorf("the log lacks %q:\n%s", want, r.log)
		}
	}
	c := gh.marked("imgcompare")
	if len(c) != 1 || !strings.Contains(c[0].Body, "All rules kept.") ||
		!strings.Contains(c[0].Body, "`docker://"+reg.open+"/action-test/echo_app_multistage:latest`") ||
		!strings.Contains(c[0].Body, "`docker-daemon:echo_app_multistage:pr-7`") {
		t.Errorf("the comments: %+v", c)
	}
	if m := regexp.MustCompile(`size ([0-9]+) B, compressed ([0-9]+) B, ([-0-9.]+)% smaller`).FindStringSubmatch(r.log); m == nil || m[1] == "" || m[1] == "0" {
		t.Errorf("the outputs were not set:\n%s", r.log)
	}
}
