package server

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics and parses it with Prometheus' own parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := serve(t, h, "GET", MetricsPath, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", rec.Code)
	}
	if got := expfmt.ResponseFormat(rec.Header()); got != expfmt.NewFormat(expfmt.TypeTextPlain) {
		t.Errorf("Content-Type %q is not the text exposition format (%v)", rec.Header().Get("Content-Type"), got)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, rec.Body)
	}
	return families
}

func counterValue(t *testing.T, families map[string]*dto.MetricFamily, method, code string) float64 {
	t.Helper()
	f := families["echo_app_http_requests_total"]
	if f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("echo_app_http_requests_total missing or not a counter")
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["method"] == method && labels["code"] == code {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	h := newTestHandler()
	for range 3 {
		serve(t, h, "GET", "/alpacas", nil)
	}
	serve(t, h, "HEAD", "/alpacas", nil)
	serve(t, h, "GET", "/a/b", nil)
	serve(t, h, "POST", "/alpacas", nil)
	serve(t, h, "BREW", "/coffee", nil)
	serve(t, h, "GET", "/%00", nil)

	families := scrape(t, h)
	for _, c := range []struct {
		method, code string
		want         float64
	}{
		{"GET", "200", 3},
		{"HEAD", "200", 1},
		{"GET", "404", 1},
		{"other", "405", 2},
		{"GET", "400", 1},
	} {
		if got := counterValue(t, families, c.method, c.code); got != c.want {
			t.Errorf("requests{method=%s,code=%s} = %v, want %v", c.method, c.code, got, c.want)
		}
	}

	hist := families["echo_app_http_request_duration_seconds"]
	if hist == nil || hist.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatal("echo_app_http_request_duration_seconds missing or not a histogram")
	}
	if got := hist.Metric[0].GetHistogram().GetSampleCount(); got != 8 {
		t.Errorf("duration histogram count = %d, want 8", got)
	}
	if got := families["echo_app_http_requests_in_flight"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("in flight during the scrape = %v, want 1 (the scrape itself)", got)
	}
	info := families["echo_app_build_info"].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range info.Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "v1.2.3" || labels["revision"] != "abc123" || labels["goversion"] != "go1.26" {
		t.Errorf("build info labels = %v", labels)
	}
	if start := families["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue(); start < 1.7e9 {
		t.Errorf("process_start_time_seconds = %v, want a Unix time", start)
	}
	if ready := families["echo_app_ready"].GetMetric()[0].GetGauge().GetValue(); ready != 1 {
		t.Errorf("echo_app_ready = %v, want 1", ready)
	}
}

func TestMetricsEscapeLabelValues(t *testing.T) {
	h := NewHandler("v\"1\\\n", "rev", "go", nil)
	info := scrape(t, h)["echo_app_build_info"].GetMetric()[0]
	for _, l := range info.Label {
		if l.GetName() == "version" && l.GetValue() != "v\"1\\\n" {
			t.Errorf("version label = %q, want the original value back", l.GetValue())
		}
	}
}
