// Package cluster runs the Kubernetes manifests of deploy/kubernetes on a
// real single-node cluster (scripts/cluster.sh: the API server, the
// controller manager, the scheduler, a kubelet with containerd and runc,
// kube-proxy), wholly inside a network namespace with no way off the
// machine. Clients of pods and Services run in that namespace: this test
// binary again, under ip netns exec (TestMain's client mode).
package cluster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

var (
	clientURL      = flag.String("client-url", "", "client mode: request this URL at a steady rate, in the cluster's namespace")
	clientInterval = flag.Duration("client-interval", 10*time.Millisecond, "client mode: time between requests")
	clientStopFile = flag.String("client-stop", "", "client mode: stop once this file exists")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *clientURL != "" {
		os.Exit(client())
	}
	if testing.Short() {
		fmt.Println("skipped under -short: the cluster's tests are integration tests (make test runs them)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// client requests clientURL on a new connection every clientInterval
// until the stop file appears (or ten minutes pass), and prints one JSON
// line: requests, failures with their first errors, and latencies. It
// refuses to send anything where a default route exists: it must run in
// the cluster's namespace, where pod and Service addresses lead nowhere
// else.
func client() int {
	if routes, err := os.ReadFile("/proc/net/route"); err != nil || defaultRoute(string(routes)) {
		fmt.Fprintln(os.Stderr, "client: this network namespace has a default route (or /proc/net/route is unreadable); refusing to send")
		return 2
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var r clientResult
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(*clientStopFile); err == nil {
			break
		}
		start := time.Now()
		resp, err := c.Get(*clientURL)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && (resp.StatusCode != 200 || !strings.HasPrefix(string(body), "I love ")) {
				err = fmt.Errorf("status %d, body %.40q", resp.StatusCode, body)
			}
		}
		r.Requests++
		if err != nil {
			r.Failed++
			if len(r.Errors) < 5 {
				r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", start.Format("15:04:05.000"), err))
			}
		} else {
			r.LatenciesUS = append(r.LatenciesUS, time.Since(start).Microseconds())
		}
		time.Sleep(*clientInterval)
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// defaultRoute reports whether /proc/net/route lists a route to 0.0.0.0.
func defaultRoute(table string) bool {
	lines := bufio.NewScanner(strings.NewReader(table))
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) > 2 && f[1] == "00000000" {
			return true
		}
	}
	return false
}

type clientResult struct {
	Requests    int
	Failed      int
	Errors      []string
	LatenciesUS []int64
}

func (r clientResult) p99() time.Duration {
	if len(r.LatenciesUS) == 0 {
		return 0
	}
	l := slices.Clone(r.LatenciesUS)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return time.Duration(l[min(len(l)-1, len(l)*99/100)]) * time.Microsecond
}

// cluster is what scripts/cluster.sh status reports.
type cluster struct {
	env map[string]string
}

func requireCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{env: dockertest.Settings(t, "cluster", "the cluster")}
	// Nothing is sent before the namespace is known to lead nowhere.
	routes, err := exec.Command("ip", "-n", c.env["NETNS"], "route", "show", "default").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(routes)) != 0 {
		t.Fatalf("the cluster's namespace %s has a default route (%q, %v)", c.env["NETNS"], routes, err)
	}
	return c
}

// kubectl runs kubectl in the cluster's namespace.
func (c *cluster) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.kubectlErr(args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) kubectlErr(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", c.env["NETNS"], c.env["KUBECTL"], "--kubeconfig", c.env["KUBECONFIG"]}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// load is a client running in the cluster's namespace.
type load struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	stop string
}

func (c *cluster) startLoad(t *testing.T, url string) *load {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := &load{stop: filepath.Join(t.TempDir(), "stop")}
	l.cmd = exec.Command("ip", "netns", "exec", c.env["NETNS"], self, "-client-url", url, "-client-stop", l.stop)
	l.cmd.Stdout = &l.out
	l.cmd.Stderr = os.Stderr
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(l.stop, nil, 0o644); l.cmd.Wait() })
	return l
}

func (l *load) finish(t *testing.T) clientResult {
	t.Helper()
	if err := os.WriteFile(l.stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.cmd.Wait(); err != nil {
		t.Fatalf("the client: %v\n%s", err, l.out.String())
	}
	var r clientResult
	if err := json.Unmarshal(l.out.Bytes(), &r); err != nil {
		t.Fatalf("the client printed %q: %v", l.out.String(), err)
	}
	return r
}

const (
	namespace = "e2e"
	imageRepo = "localhost/docker_multistage/echo_app_multistage"
)

// deploy applies deploy/kubernetes as shipped, through a kustomization
// that changes only the image reference and the namespace, and waits for
// the rollout.
func (c *cluster) deploy(t *testing.T, tag string, extra string) {
	t.Helper()
	dir := t.TempDir()
	base, err := filepath.Abs(filepath.Join(dockertest.RepoRoot(), "deploy", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
  - %s
images:
  - name: echo_app_multistage
    newName: %s
    newTag: %s
%s`, namespace, rel, imageRepo, tag, extra)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	c.kubectl(t, "apply", "-k", dir)
}

func (c *cluster) rollout(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	c.kubectl(t, "-n", namespace, "rollout", "status", "deployment/echo-app", "--timeout", "180s")
	return time.Since(start)
}

// serviceURL is the Service's cluster IP URL of /alpacas.
func (c *cluster) serviceURL(t *testing.T) string {
	t.Helper()
	ip := strings.TrimSpace(c.kubectl(t, "-n", namespace, "get", "service", "echo-app", "-o", "jsonpath={.spec.clusterIP}"))
	return "http://" + ip + "/alpacas"
}

type pod struct {
	Name, IP string
	Ready    bool
}

func (c *cluster) pods(t *testing.T) []pod {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string
				DeletionTimestamp *string
			}
			Status struct {
				PodIP      string
				Conditions []struct{ Type, Status string }
			}
		}
	}
	if err := json.Unmarshal([]byte(c.kubectl(t, "-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=echo-app", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	var out []pod
	for _, p := range list.Items {
		if p.Metadata.DeletionTimestamp != nil {
			continue
		}
		ready := false
		for _, cond := range p.Status.Conditions {
			ready = ready || cond.Type == "Ready" && cond.Status == "True"
		}
		out = append(out, pod{p.Metadata.Name, p.Status.PodIP, ready})
	}
	return out
}

// importImages builds the multi-stage image and copies it into containerd
// under two tags, for a rollout from one to the other.
func (c *cluster) importImages(t *testing.T) {
	t.Helper()
	dockertest.BuildImages(t)
	var refs []string
	for _, tag := range []string{"e2e-1", "e2e-2"} {
		ref := imageRepo + ":" + tag
		dockertest.Docker(t, "tag", dockertest.MultiStage, ref)
		refs = append(refs, ref)
	}
	cmd := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "cluster.sh"), append([]string{"import"}, refs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cluster.sh import: %v\n%s", err, out)
	}
}

// TestDeployment runs the manifests as shipped: three replicas Ready
// under the restricted Pod Security profile, as user 65532 with a
// read-only root, answering through the Service; a rolling update and the
// deletion of a pod under load lose no request; a drain stops where the
// PodDisruptionBudget says; and without the drain delay, the same pod
// deletions lose requests.
func TestDeployment(t *testing.T) {
	c := requireCluster(t)
	c.importImages(t)
	c.kubectlErr("delete", "namespace", namespace, "--wait=true", "--timeout=120s")
	c.kubectl(t, "create", "namespace", namespace)
	c.kubectl(t, "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest")
	t.Cleanup(func() {
		c.kubectlErr("uncordon", c.env["NODE"])
		c.kubectlErr("delete", "namespace", namespace, "--wait=false")
	})

	c.deploy(t, "e2e-1", "")
	first := c.rollout(t)
	pods := c.pods(t)
	if len(pods) != 3 || slices.ContainsFunc(pods, func(p pod) bool { return !p.Ready }) {
		t.Fatalf("pods after the rollout: %+v", pods)
	}
	t.Logf("first rollout: %v", first)

	// The processes: user 65532, a read-only root.
	c.checkProcesses(t)

	// The Service, through kube-proxy, once it has programmed it.
	url := c.serviceURL(t)
	c.waitFor(t, "the Service to answer", func() bool {
		out, err := exec.Command("ip", "netns", "exec", c.env["NETNS"], "curl", "-s", "-m", "2", url).Output()
		return err == nil && string(out) == "I love alpacas!\n"
	})
	probe := c.startLoad(t, url)
	time.Sleep(2 * time.Second)
	if r := probe.finish(t); r.Requests == 0 || r.Failed != 0 {
		t.Fatalf("the Service %s: %+v", url, r)
	}

	// A rolling update under a steady client: no request lost.
	l := c.startLoad(t, url)
	time.Sleep(time.Second)
	c.kubectl(t, "-n", namespace, "set", "image", "deployment/echo-app", "echo-app="+imageRepo+":e2e-2")
	took := c.rollout(t)
	time.Sleep(time.Second)
	r := l.finish(t)
	t.Logf("rolling update: %d requests, %d failed, p99 %v, rollout %v", r.Requests, r.Failed, r.p99(), took.Round(100*time.Millisecond))
	writeFigure(t, "rolling update", r, took)
	if r.Failed != 0 {
		t.Errorf("the rolling update lost %d of %d requests: %v", r.Failed, r.Requests, r.Errors)
	}

	// Deleting pods under load: none lost. The drain delay covers the
	// time kube-proxy takes to stop sending new connections to a pod;
	// what that time was is in the log, and in the failure.
	before := c.proxyProgramming(t)
	r = c.deletePodsUnderLoad(t, url, 2)
	programmed := c.proxyProgramming(t).since(before)
	t.Logf("pod deletions: %d requests, %d failed; %s", r.Requests, r.Failed, programmed)
	writeFigure(t, "pod deletions", r, 0)
	if r.Failed != 0 {
		t.Errorf("deleting pods lost %d of %d requests (%s, which the drain delay must outlast): %v", r.Failed, r.Requests, programmed, r.Errors)
	}

	// SIGTERM flips readiness first: the deleted pod answers /readyz 503
	// while it still serves, then goes.
	c.checkReadinessFlips(t)

	// A drain: the eviction API refuses what would break the budget.
	out, err := c.kubectlErr("drain", c.env["NODE"], "--ignore-daemonsets", "--delete-emptydir-data", "--pod-selector", "app.kubernetes.io/name=echo-app", "--timeout", "40s")
	if err == nil || !strings.Contains(out, "Cannot evict pod as it would violate the pod's disruption budget") {
		t.Errorf("the drain: err %v\n%s", err, out)
	}
	ready := 0
	for _, p := range c.pods(t) {
		if p.Ready {
			ready++
		}
	}
	if ready != 2 {
		t.Errorf("%d pods Ready during the drain, want 2 (3 less the one the budget lets go)", ready)
	}
	c.kubectl(t, "uncordon", c.env["NODE"])
	c.rollout(t)

	// Without the drain delay, deletions lose requests: the test can fail.
	// Whether one does is a race between the kubelet's SIGTERM and
	// kube-proxy's removal of the endpoint, so pods are deleted one at a
	// time, up to ten, until one loses a request.
	c.kubectl(t, "-n", namespace, "set", "env", "deployment/echo-app", "ECHO_APP_DRAIN_DELAY=0s")
	c.rollout(t)
	var weak clientResult
	rounds := 0
	for rounds < 10 && weak.Failed == 0 {
		rounds++
		r := c.deletePodsUnderLoad(t, url, 1)
		weak.Requests += r.Requests
		weak.Failed += r.Failed
		weak.Errors = append(weak.Errors, r.Errors...)
		weak.LatenciesUS = append(weak.LatenciesUS, r.LatenciesUS...)
	}
	writeFigure(t, fmt.Sprintf("pod deletions without the drain delay (%d)", rounds), weak, 0)
	t.Logf("without the drain delay: %d of %d requests lost in %d deletions: %v", weak.Failed, weak.Requests, rounds, weak.Errors)
	if weak.Failed == 0 {
		t.Errorf("without the drain delay, %d pod deletions lost no request (%d): the test cannot tell", rounds, weak.Requests)
	}
}

// checkReadinessFlips deletes a pod and asks it, by its own address,
// for /readyz and /alpacas until it stops answering: /readyz must turn 503
// while /alpacas still answers 200 (the drain delay), before the end.
func (c *cluster) checkReadinessFlips(t *testing.T) {
	t.Helper()
	victim := c.pods(t)[0]
	status := func(path string) string {
		out, _ := exec.Command("ip", "netns", "exec", c.env["NETNS"], "curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}",
			"http://"+victim.IP+":8080"+path).Output()
		return string(out)
	}
	if r, a := status("/readyz"), status("/alpacas"); r != "200" || a != "200" {
		t.Fatalf("%s before deletion: /readyz %s, /alpacas %s", victim.Name, r, a)
	}
	c.kubectl(t, "-n", namespace, "delete", "pod", victim.Name, "--wait=false")
	start := time.Now()
	var flipped, gone time.Duration
	for time.Since(start) < 30*time.Second {
		r, a := status("/readyz"), status("/alpacas")
		if flipped == 0 && r == "503" && a == "200" {
			flipped = time.Since(start)
		}
		if a != "200" {
			gone = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s: /readyz 503 while serving after %v, stopped serving after %v", victim.Name, flipped.Round(time.Millisecond), gone.Round(time.Millisecond))
	if flipped == 0 || gone == 0 || flipped >= gone {
		t.Errorf("%s: readiness flipped after %v, serving stopped after %v; want the flip first", victim.Name, flipped, gone)
	}
	c.rollout(t)
}

// waitFor polls cond for up to a minute.
func (c *cluster) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after a minute", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deletePodsUnderLoad deletes n pods one after the other, each once its
// replacement is Ready, under a steady client.
func (c *cluster) deletePodsUnderLoad(t *testing.T, url string, n int) clientResult {
	t.Helper()
	l := c.startLoad(t, url)
	time.Sleep(time.Second)
	for range n {
		pods := c.pods(t)
		c.kubectl(t, "-n", namespace, "delete", "pod", pods[0].Name, "--wait=true", "--timeout=60s")
		c.rollout(t)
		deadline := time.Now().Add(60 * time.Second)
		for {
			ps := c.pods(t)
			if len(ps) == 3 && !slices.ContainsFunc(ps, func(p pod) bool { return !p.Ready }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no three Ready pods after deleting one: %+v", ps)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	return l.finish(t)
}

// checkProcesses reads the containers' processes in /proc: the server
// runs as 65532 with a read-only root filesystem.
func (c *cluster) checkProcesses(t *testing.T) {
	t.Helper()
	out, err := exec.Command(c.env["CTR"], "--address", c.env["CONTAINERD_ADDRESS"], "--namespace", "k8s.io", "tasks", "ls").CombinedOutput()
	if err != nil {
		t.Fatalf("ctr tasks ls: %v\n%s", err, out)
	}
	servers := 0
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "RUNNING" {
			continue
		}
		pid := f[1]
		exe, _ := os.Readlink("/proc/" + pid + "/exe")
		if filepath.Base(exe) != "echo_app" {
			continue
		}
		servers++
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Uid:") && strings.Join(strings.Fields(l)[1:], " ") != "65532 65532 65532 65532" {
				t.Errorf("pid %s: %s", pid, l)
			}
		}
		mounts, err := os.ReadFile("/proc/" + pid + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		rootRO := false
		for _, l := range strings.Split(string(mounts), "\n") {
			f := strings.Fields(l)
			if len(f) > 5 && f[4] == "/" {
				rootRO = strings.HasPrefix(f[5], "ro")
			}
		}
		if !rootRO {
			t.Errorf("pid %s: the root filesystem is not read-only", pid)
		}
	}
	if servers != 3 {
		t.Errorf("%d echo_app processes running, want 3:\n%s", servers, out)
	}
}

// writeFigure appends a result to out/artifacts/deploy-figures.md.
func writeFigure(t *testing.T, what string, r clientResult, rollout time.Duration) {
	t.Helper()
	dir := filepath.Join(dockertest.RepoRoot(), "out", "artifacts")
	os.MkdirAll(dir, 0o755)
	f, err := os.OpenFile(filepath.Join(dir, "deploy-figures.md"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	took := "-"
	if rollout > 0 {
		took = rollout.Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(f, "| %s | %s | %d | %d | %v | %s |\n", time.Now().UTC().Format(time.DateTime), what, r.Requests, r.Failed, r.p99().Round(100*time.Microsecond), took)
}
