package cluster

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// programming is kube-proxy's histogram of network programming latency:
// from a change to a Service's endpoints to the rules that carry it.
// Buckets are cumulative counts by upper bound, in seconds.
type programming struct {
	count  uint64
	bounds []float64
	counts []uint64
}

// proxyProgramming reads the histogram from kube-proxy's metrics, inside
// the cluster's namespace.
func (c *cluster) proxyProgramming(t *testing.T) programming {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", c.env["NETNS"], "curl", "-sf", "-m", "5", "http://127.0.0.1:10249/metrics").Output()
	if err != nil {
		t.Fatalf("kube-proxy's metrics: %v", err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("parsing kube-proxy's metrics: %v", err)
	}
	const name = "kubeproxy_network_programming_duration_seconds"
	f := families[name]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.Metric) == 0 {
		t.Fatalf("kube-proxy's metrics have no histogram %s", name)
	}
	h := f.Metric[0].GetHistogram()
	if len(h.Bucket) == 0 {
		t.Fatalf("kube-proxy's histogram %s has no buckets", name)
	}
	p := programming{count: h.GetSampleCount()}
	for _, b := range h.Bucket {
		p.bounds = append(p.bounds, b.GetUpperBound())
		p.counts = append(p.counts, b.GetCumulativeCount())
	}
	return p
}

// since describes the changes programmed between before and p: how many,
// and the bound of the smallest bucket that holds them all.
func (p programming) since(before programming) string {
	n := p.count - before.count
	if n == 0 {
		return "kube-proxy programmed no endpoint change"
	}
	for i, bound := range p.bounds {
		if i < len(before.counts) && p.counts[i]-before.counts[i] == n {
			return fmt.Sprintf("kube-proxy programmed %d endpoint changes, each within %vs of the change", n, bound)
		}
	}
	return fmt.Sprintf("kube-proxy programmed %d endpoint changes, some over %vs after the change", n, p.bounds[len(p.bounds)-1])
}
