// Package deploy tests the Compose and Kubernetes manifests against the
// server they run: strict decoding into the Kubernetes API types, the
// restricted Pod Security profile field by field, and probes, ports, user
// and shutdown timing read from the server package and the Dockerfile
// rather than from copies of their numbers.
package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	composetypes "github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/rastringer/docker_multistage/internal/server"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// kustomization holds the fields of kustomization.yaml this project uses;
// decoding is strict, so any other field fails the test.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// manifests is every object deploy/kubernetes declares.
type manifests struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	pdb        *policyv1.PodDisruptionBudget
	policy     *networkingv1.NetworkPolicy
}

func readStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func load(t *testing.T) manifests {
	t.Helper()
	dir := filepath.Join("kubernetes")
	var k kustomization
	readStrict(t, filepath.Join(dir, "kustomization.yaml"), &k)
	if k.Kind != "Kustomization" || len(k.Resources) == 0 {
		t.Fatalf("kustomization.yaml: kind %q with %d resources", k.Kind, len(k.Resources))
	}
	var m manifests
	for _, file := range k.Resources {
		path := filepath.Join(dir, file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(b, &meta); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch meta.Kind {
		case "Deployment":
			m.deployment = &appsv1.Deployment{}
			readStrict(t, path, m.deployment)
		case "Service":
			m.service = &corev1.Service{}
			readStrict(t, path, m.service)
		case "HorizontalPodAutoscaler":
			m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
			readStrict(t, path, m.hpa)
		case "PodDisruptionBudget":
			m.pdb = &policyv1.PodDisruptionBudget{}
			readStrict(t, path, m.pdb)
		case "NetworkPolicy":
			m.policy = &networkingv1.NetworkPolicy{}
			readStrict(t, path, m.policy)
		default:
			t.Fatalf("%s: unexpected kind %q", path, meta.Kind)
		}
	}
	if m.deployment == nil || m.service == nil || m.hpa == nil || m.pdb == nil || m.policy == nil {
		t.Fatalf("kustomization.yaml lacks a Deployment, Service, HPA, PDB or NetworkPolicy: %+v", m)
	}
	return m
}

// imageUser reads the user of the shipped image: the last USER of the
// Dockerfile, whose last stage is the default target.
func imageUser(t *testing.T) (uid, gid int64) {
	t.Helper()
	f, err := os.Open(filepath.Join(dockertest.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var user string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 2 && fields[0] == "USER" {
			user = fields[1]
		}
	}
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.ParseInt(u, 10, 64)
	gid, err2 := strconv.ParseInt(g, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("Dockerfile USER %q is not numeric uid:gid", user)
	}
	return uid, gid
}

// serverPort is the port the server listens on by default.
func serverPort(t *testing.T) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(server.DefaultConfig().Addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// restrictedViolations checks a pod spec against the Pod Security
// Standards "restricted" profile, plus a read-only root filesystem, and
// returns what breaks it. Every field must be set explicitly on each
// container, so the pod does not depend on defaults.
func restrictedViolations(spec corev1.PodSpec) []string {
	var out []string
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		out = append(out, "pod shares a host namespace")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			out = append(out, "volume "+v.Name+" is a hostPath")
		}
	}
	if sc := spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		out = append(out, "pod sets sysctls")
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		sc := c.SecurityContext
		if sc == nil {
			out = append(out, c.Name+": no securityContext")
			continue
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			out = append(out, c.Name+": runAsNonRoot is not true")
		}
		if sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			out = append(out, c.Name+": runAsUser is unset or 0")
		}
		if sc.RunAsGroup == nil || *sc.RunAsGroup == 0 {
			out = append(out, c.Name+": runAsGroup is unset or 0")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			out = append(out, c.Name+": allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			out = append(out, c.Name+": privileged")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			out = append(out, c.Name+": capabilities do not drop ALL")
		} else {
			for _, add := range sc.Capabilities.Add {
				if add != "NET_BIND_SERVICE" {
					out = append(out, c.Name+": adds capability "+string(add))
				}
			}
		}
		if sc.SeccompProfile == nil || (sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault && sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost) {
			out = append(out, c.Name+": seccompProfile is not RuntimeDefault or Localhost")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			out = append(out, c.Name+": readOnlyRootFilesystem is not true")
		}
		if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
			out = append(out, c.Name+": procMount is not Default")
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, fmt.Sprintf("%s: hostPort %d", c.Name, p.HostPort))
			}
		}
	}
	return out
}

func TestRestrictedProfile(t *testing.T) {
	m := load(t)
	spec := m.deployment.Spec.Template.Spec
	for _, v := range restrictedViolations(spec) {
		t.Error(v)
	}
	pod := spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext must set runAsNonRoot and a RuntimeDefault seccomp profile: %+v", pod)
	}
	uid, gid := imageUser(t)
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc.RunAsUser == nil || *sc.RunAsUser != uid || sc.RunAsGroup == nil || *sc.RunAsGroup != gid {
			t.Errorf("%s: runs as %v:%v, the image's user is %d:%d", c.Name, sc.RunAsUser, sc.RunAsGroup, uid, gid)
		}
	}
	if pod != nil && (pod.RunAsUser == nil || *pod.RunAsUser != uid) {
		t.Errorf("pod runAsUser %v, the image's user is %d", pod.RunAsUser, uid)
	}
}

// TestRestrictedCheckCatches keeps the check above honest: each weakening
// of the shipped spec must be reported.
func TestRestrictedCheckCatches(t *testing.T) {
	m := load(t)
	mutations := map[string]func(*corev1.PodSpec){
		"privilege escalation": func(s *corev1.PodSpec) { v := true; s.Containers[0].SecurityContext.AllowPrivilegeEscalation = &v },
		"root":                 func(s *corev1.PodSpec) { v := int64(0); s.Containers[0].SecurityContext.RunAsUser = &v },
		"capability": func(s *corev1.PodSpec) {
			s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
		},
		"no seccomp":    func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.SeccompProfile = nil },
		"writable root": func(s *corev1.PodSpec) { v := false; s.Containers[0].SecurityContext.ReadOnlyRootFilesystem = &v },
		"host network":  func(s *corev1.PodSpec) { s.HostNetwork = true },
		"host port":     func(s *corev1.PodSpec) { s.Containers[0].Ports[0].HostPort = 8080 },
	}
	for name, mutate := range mutations {
		spec := *m.deployment.Spec.Template.Spec.DeepCopy()
		mutate(&spec)
		if len(restrictedViolations(spec)) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}

// envOf returns a container's environment variable, or "".
func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// durationEnv is the duration a container sets in name, or def.
func durationEnv(t *testing.T, c corev1.Container, name string, def time.Duration) time.Duration {
	t.Helper()
	v := envOf(c, name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func TestProbesPortsAndTermination(t *testing.T) {
	m := load(t)
	d := m.deployment
	port := serverPort(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update maxUnavailable must be 0: %+v", ru)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != port {
		t.Fatalf("container ports %+v, the server listens on %d", c.Ports, port)
	}
	portName := c.Ports[0].Name
	if v := envOf(c, "PORT"); v != strconv.Itoa(int(port)) {
		t.Errorf("PORT=%q, want %d", v, port)
	}

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, server.HealthPath},
		{"liveness", c.LivenessProbe, server.HealthPath},
		{"readiness", c.ReadinessProbe, server.ReadyPath},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: missing or not HTTP", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || (g.Port.StrVal != portName && g.Port.IntValue() != int(port)) {
			t.Errorf("%s probe: %s on port %s, want %s on %s (%d)", p.name, g.Path, g.Port.String(), p.path, portName, port)
		}
	}

	drain := durationEnv(t, c, "ECHO_APP_DRAIN_DELAY", server.DefaultConfig().DrainDelay)
	shutdown := durationEnv(t, c, "ECHO_APP_SHUTDOWN_TIMEOUT", server.DefaultConfig().ShutdownTimeout)
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if drain <= 0 {
		t.Error("no drain delay: the pod would stop serving before endpoints drop it")
	}
	if grace <= drain+shutdown {
		t.Errorf("terminationGracePeriodSeconds %v must exceed drain delay %v + shutdown timeout %v", grace, drain, shutdown)
	}

	if lim := c.Resources.Limits.Memory(); lim.IsZero() {
		t.Error("no memory limit")
	}
	if req := c.Resources.Requests.Cpu(); req.IsZero() {
		t.Error("no CPU request: the HPA has nothing to scale on")
	}

	labels := d.Spec.Template.Labels
	matches := func(selector map[string]string) bool {
		for k, v := range selector {
			if labels[k] != v {
				return false
			}
		}
		return len(selector) > 0
	}
	if !matches(m.service.Spec.Selector) || !matches(m.pdb.Spec.Selector.MatchLabels) || !matches(m.policy.Spec.PodSelector.MatchLabels) {
		t.Error("a selector of the Service, PDB or NetworkPolicy does not select the pods")
	}
	if tp := m.service.Spec.Ports[0].TargetPort; tp.StrVal != portName && tp.IntValue() != int(port) {
		t.Errorf("Service targetPort %s does not reach the container port", tp.String())
	}
	if m.hpa.Spec.ScaleTargetRef.Kind != "Deployment" || m.hpa.Spec.ScaleTargetRef.Name != d.Name {
		t.Errorf("HPA targets %+v, not the Deployment %s", m.hpa.Spec.ScaleTargetRef, d.Name)
	}
	if len(m.hpa.Spec.Metrics) == 0 || m.hpa.Spec.Metrics[0].Resource == nil || m.hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
		t.Error("HPA does not scale on CPU")
	}
	ingress := m.policy.Spec.Ingress
	if len(ingress) != 1 || len(ingress[0].Ports) != 1 || ingress[0].Ports[0].Port.IntValue() != int(port) {
		t.Errorf("NetworkPolicy must admit port %d only: %+v", port, ingress)
	}
}

// composeService loads compose.yaml with the Compose specification's own
// loader and returns its one service.
func composeService(t *testing.T) composetypes.ServiceConfig {
	t.Helper()
	ctx := context.Background()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dockertest.RepoRoot(), "compose.yaml")},
		cli.WithName("docker_multistage"), cli.WithWorkingDirectory(dockertest.RepoRoot()))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(project.Services) != 1 {
		t.Fatalf("compose.yaml has %d services, want 1", len(project.Services))
	}
	for _, s := range project.Services {
		return s
	}
	panic("unreachable")
}

func TestCompose(t *testing.T) {
	s := composeService(t)
	uid, gid := imageUser(t)
	port := serverPort(t)
	if s.User != fmt.Sprintf("%d:%d", uid, gid) {
		t.Errorf("user %q, the image's is %d:%d", s.User, uid, gid)
	}
	if !s.ReadOnly {
		t.Error("read_only is not true")
	}
	if !slices.Contains(s.CapDrop, "ALL") || len(s.CapAdd) > 0 {
		t.Errorf("cap_drop %v, cap_add %v", s.CapDrop, s.CapAdd)
	}
	if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("security_opt %v lacks no-new-privileges:true", s.SecurityOpt)
	}
	if s.Privileged {
		t.Error("privileged")
	}
	hc := s.HealthCheck
	if hc == nil || strings.Join(hc.Test, " ") != "CMD /echo_app -healthcheck" {
		t.Errorf("healthcheck %+v, want the binary's own: CMD /echo_app -healthcheck", hc)
	}
	shutdown := server.DefaultConfig().ShutdownTimeout
	if v := s.Environment["ECHO_APP_SHUTDOWN_TIMEOUT"]; v != nil {
		d, err := time.ParseDuration(*v)
		if err != nil {
			t.Fatal(err)
		}
		shutdown = d
	}
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= shutdown {
		t.Errorf("stop_grace_period %v must exceed the shutdown timeout %v", s.StopGracePeriod, shutdown)
	}
	if len(s.Ports) != 1 || s.Ports[0].HostIP != "127.0.0.1" || s.Ports[0].Target != uint32(port) {
		t.Errorf("ports %+v, want 127.0.0.1:...:%d", s.Ports, port)
	}
	if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 {
		t.Error("no memory limit")
	}
}

// runComposeService runs the service as compose.yaml describes it, with
// docker run (no bridge network exists here, so --network host and a free
// port), and waits until it is healthy.
func runComposeService(t *testing.T) (string, int, composetypes.ServiceConfig) {
	t.Helper()
	dockertest.BuildImages(t)
	s := composeService(t)
	imageHealth := dockertest.Docker(t, "image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", s.Image)
	if imageHealth != `["CMD","/echo_app","-healthcheck"]` || strings.Join(s.HealthCheck.Test, " ") != "CMD /echo_app -healthcheck" {
		t.Fatalf("compose healthcheck %v differs from the image's %s", s.HealthCheck.Test, imageHealth)
	}
	port := dockertest.FreePort(t)
	name := fmt.Sprintf("echo-app-compose-%d", port)
	args := []string{"run", "-d", "--name", name, "--network", "host", "--user", s.User,
		// The image's health check, which is compose's, checked every second
		// rather than every 10 so the test is quick.
		"--health-interval", "1s", "--health-start-period", "1s"}
	if s.ReadOnly {
		args = append(args, "--read-only")
	}
	for _, c := range s.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	for _, o := range s.SecurityOpt {
		args = append(args, "--security-opt", o)
	}
	for k, v := range s.Environment {
		if k == "PORT" {
			continue
		}
		args = append(args, "-e", k+"="+*v)
	}
	args = append(args, "-e", "PORT="+strconv.Itoa(port))
	if l := s.Deploy.Resources.Limits; l != nil {
		args = append(args, "--memory", strconv.FormatInt(int64(l.MemoryBytes), 10), "--cpus", fmt.Sprint(float32(l.NanoCPUs)))
	}
	if s.StopGracePeriod != nil {
		args = append(args, "--stop-timeout", strconv.Itoa(int(time.Duration(*s.StopGracePeriod).Seconds())))
	}
	dockertest.Docker(t, append(args, s.Image)...)
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", name) })
	dockertest.WaitHealthy(t, name)
	return name, port, s
}

// TestComposeServiceRuns checks that the service turns healthy and serves.
func TestComposeServiceRuns(t *testing.T) {
	_, port, _ := runComposeService(t)
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/alpacas")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(body) != "I love alpacas!\n" {
		t.Errorf("GET /alpacas: %d %q %v", resp.StatusCode, body, err)
	}
}

// TestComposeServiceSurvivesFlood floods the service, run with compose.yaml's
// memory limit and GOMEMLIMIT, with 10,000 connections that each send one
// request and stay open, plus 2,000 that send nothing (bench/hammer flood):
// the container must stay up and not be OOM-killed, a live client must get
// every answer, peak RSS must stay under the limit, and RSS must fall back.
func TestComposeServiceSurvivesFlood(t *testing.T) {
	name, port, s := runComposeService(t)
	limit := int64(s.Deploy.Resources.Limits.MemoryBytes)
	hammer := filepath.Join(t.TempDir(), "hammer")
	build := exec.Command("go", "build", "-o", hammer, "./bench/hammer")
	build.Dir = dockertest.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building bench/hammer: %v\n%s", err, out)
	}
	pid := dockertest.Docker(t, "inspect", "--format", "{{.State.Pid}}", name)
	out, err := exec.Command(hammer, "flood", "-addr", "127.0.0.1:"+strconv.Itoa(port), "-pid", pid,
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
	if state := dockertest.Docker(t, "inspect", "--format", "{{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}}", name); state != "true false 0" {
		t.Fatalf("after the flood: running, OOM-killed, restarts = %s; want true false 0", state)
	}
	if n := number("live_failed"); n != 0 {
		t.Errorf("the live client failed %d requests during the flood", n)
	}
	before, peak, after := number("rss_before_kib")<<10, number("rss_peak_kib")<<10, number("rss_after_kib")<<10
	if peak >= limit*3/4 {
		t.Errorf("peak RSS %d bytes, want under 3/4 of the %d-byte limit", peak, limit)
	}
	if after > before+(peak-before)/2 {
		t.Errorf("RSS %d bytes after the flood, from %d at its peak and %d before: want it back at least halfway", after, peak, before)
	}
	if number("evicted") < 10000 {
		t.Errorf("%s connections evicted, want at least the flood's 10,000 less the budget", fields["evicted"])
	}
	// Still serving.
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/alpacas")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
