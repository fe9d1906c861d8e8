// Package deploy tests the Compose and Kubernetes manifests against the
// server they run and the tools that run them: strict decoding into the
// Kubernetes API types, the restricted Pod Security profile by Kubernetes'
// own evaluator, a real API server (apiserver_test.go), the real docker
// compose (compose_test.go), and probes, ports, user and shutdown timing
// read from the server package and the Dockerfile rather than from copies
// of their numbers.
package deploy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
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

// podSecurityVersion is the Kubernetes minor version the manifests
// target: that of k8s.io/api, which they are decoded with.
var podSecurityVersion = psapi.MajorMinorVersion(1, 37)

// evaluateRestricted runs Kubernetes' own Pod Security admission code (the
// evaluator the API server's PodSecurity plugin runs) on a pod, at the
// restricted level.
func evaluateRestricted(t *testing.T, meta *metav1.ObjectMeta, spec *corev1.PodSpec) policy.AggregateCheckResult {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: podSecurityVersion}
	return policy.AggregateCheckResults(evaluator.EvaluatePod(lv, meta, spec))
}

// writableRoots lists the containers that may write to their root
// filesystem: the project asks for a read-only one, beyond the restricted
// profile.
func writableRoots(spec corev1.PodSpec) []string {
	var out []string
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestRestrictedProfile(t *testing.T) {
	m := load(t)
	tmpl := m.deployment.Spec.Template
	if r := evaluateRestricted(t, &tmpl.ObjectMeta, &tmpl.Spec); !r.Allowed {
		t.Errorf("the pod template breaks the restricted profile: %s: %s", r.ForbiddenReason(), r.ForbiddenDetail())
	}
	if w := writableRoots(tmpl.Spec); len(w) > 0 {
		t.Errorf("containers with a writable root filesystem: %v", w)
	}
	spec := tmpl.Spec
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

// weakenings are ways to weaken the shipped pod template, each with the
// reason Kubernetes' Pod Security evaluator gives for refusing it.
var weakenings = []struct {
	name, reason string
	weaken       func(*corev1.PodSpec)
}{
	{"privilege escalation", "allowPrivilegeEscalation != false", func(s *corev1.PodSpec) {
		v := true
		s.Containers[0].SecurityContext.AllowPrivilegeEscalation = &v
	}},
	{"root", "runAsUser=0", func(s *corev1.PodSpec) { v := int64(0); s.Containers[0].SecurityContext.RunAsUser = &v }},
	{"capability", "unrestricted capabilities", func(s *corev1.PodSpec) {
		s.Containers[0].SecurityContext.Capabilities.Add = []corev1.Capability{"SYS_ADMIN"}
	}},
	{"unconfined seccomp", "seccompProfile", func(s *corev1.PodSpec) {
		s.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	}},
	// A privileged container may escalate privileges: the API server
	// refuses the two set together as invalid, before Pod Security.
	{"privileged", "privileged", func(s *corev1.PodSpec) {
		v := true
		s.Containers[0].SecurityContext.Privileged = &v
		s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	}},
	{"host network", "host namespaces", func(s *corev1.PodSpec) { s.HostNetwork = true }},
	{"host port", "hostPort", func(s *corev1.PodSpec) { s.Containers[0].Ports[0].HostPort = 8080 }},
	{"host path", "restricted volume types", func(s *corev1.PodSpec) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	}},
}

// TestRestrictedCheckCatches keeps the check above honest: each weakening
// of the shipped template must be refused by the evaluator with its own
// reason, and a writable root by the project's own rule.
func TestRestrictedCheckCatches(t *testing.T) {
	m := load(t)
	for _, w := range weakenings {
		tmpl := m.deployment.Spec.Template.DeepCopy()
		w.weaken(&tmpl.Spec)
		r := evaluateRestricted(t, &tmpl.ObjectMeta, &tmpl.Spec)
		if r.Allowed || !strings.Contains(r.ForbiddenReason(), w.reason) {
			t.Errorf("%s: allowed %v, reason %q; want refused for %q", w.name, r.Allowed, r.ForbiddenReason(), w.reason)
		}
	}
	spec := *m.deployment.Spec.Template.Spec.DeepCopy()
	v := false
	spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem = &v
	if len(writableRoots(spec)) == 0 {
		t.Error("a writable root filesystem is not reported")
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
