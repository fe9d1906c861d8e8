package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// apiServer is a running Kubernetes API server and the kubectl to talk to
// it, as scripts/kube-apiserver.sh start leaves them.
type apiServer struct {
	kubectl, kubeconfig string
}

// requireAPIServer finds the API server that scripts/kube-apiserver.sh
// started, by what its status reports: outside CI the test skips when
// none answers; in CI it fails, because .ci/run starts one.
func requireAPIServer(t *testing.T) *apiServer {
	t.Helper()
	settings := dockertest.Settings(t, "kube-apiserver", "the API server")
	return &apiServer{kubectl: settings["KUBECTL"], kubeconfig: settings["KUBECONFIG"]}
}

// run runs kubectl with stdin and returns its stdout and stderr.
func (s *apiServer) run(stdin []byte, args ...string) (string, string, error) {
	cmd := exec.Command(s.kubectl, append([]string{"--kubeconfig", s.kubeconfig}, args...)...)
	cmd.Dir = dockertest.RepoRoot()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func (s *apiServer) must(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, err := s.run(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// restrictedNamespace creates a namespace that enforces, and warns about,
// the restricted profile, with the default ServiceAccount a controller
// manager would have made.
func (s *apiServer) restrictedNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("echo-app-test-%d", time.Now().UnixNano())
	s.must(t, nil, "create", "namespace", ns)
	s.must(t, nil, "label", "namespace", ns,
		"pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/enforce-version=latest",
		"pod-security.kubernetes.io/warn=restricted", "pod-security.kubernetes.io/warn-version=latest")
	s.must(t, nil, "create", "serviceaccount", "default", "--namespace", ns)
	return ns
}

// TestAPIServerAdmitsManifests applies the kustomization to a real API
// server in a namespace that enforces the restricted profile: accepted
// with no warning, then really created and read back, so that validation
// and defaulting ran.
func TestAPIServerAdmitsManifests(t *testing.T) {
	s := requireAPIServer(t)
	ns := s.restrictedNamespace(t)
	_, warnings, err := s.run(nil, "--warnings-as-errors", "apply", "--dry-run=server", "--namespace", ns, "-k", "deploy/kubernetes")
	if err != nil {
		t.Fatalf("the API server refused the manifests (dry run): %v\n%s", err, warnings)
	}
	if out, errOut, err := s.run(nil, "--warnings-as-errors", "apply", "--namespace", ns, "-k", "deploy/kubernetes"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s%s", err, out, errOut)
	}
	var got struct {
		Items []struct {
			Kind     string
			Metadata metav1.ObjectMeta
			Spec     json.RawMessage
		}
	}
	out := s.must(t, nil, "get", "deployment,service,horizontalpodautoscaler,poddisruptionbudget,networkpolicy", "--namespace", ns, "-o", "json")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]json.RawMessage{}
	for _, item := range got.Items {
		kinds[item.Kind] = item.Spec
	}
	for _, kind := range []string{"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
		if kinds[kind] == nil {
			t.Errorf("no %s was stored", kind)
		}
	}
	// Fields the manifests leave out, which only the API server's
	// defaulting fills in.
	var deployment struct {
		RevisionHistoryLimit    *int32 `json:"revisionHistoryLimit"`
		ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds"`
		Template                struct {
			Spec corev1.PodSpec
		}
	}
	if err := json.Unmarshal(kinds["Deployment"], &deployment); err != nil {
		t.Fatal(err)
	}
	if deployment.RevisionHistoryLimit == nil || deployment.ProgressDeadlineSeconds == nil ||
		deployment.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || deployment.Template.Spec.DNSPolicy == "" ||
		deployment.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Errorf("the stored Deployment was not defaulted: %s", kinds["Deployment"])
	}
	var service struct{ ClusterIP string }
	if err := json.Unmarshal(kinds["Service"], &service); err != nil || service.ClusterIP == "" {
		t.Errorf("the stored Service has no cluster IP: %s", kinds["Service"])
	}
}

// TestAPIServerRefusesWeakenings submits each weakening of the pod template
// to the API server: as a Deployment it is only warned about, which
// kubectl --warnings-as-errors turns into a failure; as a bare Pod it is
// refused, 403 with the PodSecurity reason.
func TestAPIServerRefusesWeakenings(t *testing.T) {
	s := requireAPIServer(t)
	ns := s.restrictedNamespace(t)
	m := load(t)
	for _, w := range weakenings {
		t.Run(w.name, func(t *testing.T) {
			d := m.deployment.DeepCopy()
			d.Namespace = ns
			w.weaken(&d.Spec.Template.Spec)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			_, warnings, err := s.run(b, "--warnings-as-errors", "apply", "--dry-run=server", "-f", "-")
			if err == nil || !strings.Contains(warnings, "restricted") || !strings.Contains(warnings, w.reason) {
				t.Errorf("weakened Deployment: %v, warnings %q; want a restricted warning naming %q", err, warnings, w.reason)
			}

			pod := corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: "weakened", Namespace: ns, Labels: d.Spec.Template.Labels},
				Spec:       d.Spec.Template.Spec,
			}
			b, err = json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			_, refusal, err := s.run(b, "apply", "--dry-run=server", "-f", "-")
			if err == nil || !strings.Contains(refusal, "Forbidden") || !strings.Contains(refusal, "violates PodSecurity") || !strings.Contains(refusal, w.reason) {
				t.Errorf("weakened Pod: %v, %q; want Forbidden, violates PodSecurity, %q", err, refusal, w.reason)
			}
		})
	}
	// The shipped template, as a bare Pod, is admitted.
	d := m.deployment.DeepCopy()
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "shipped", Namespace: ns, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
	}
	b, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := s.run(b, "--warnings-as-errors", "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("the shipped template as a Pod: %v\n%s", err, errOut)
	}
}
