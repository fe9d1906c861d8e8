package report

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixture is the analysis of two synthetic images, an alpine-like
// baseline and a scratch image, with a budget the baseline would break
// and the scratch image breaks once.
func fixture(t *testing.T) ([]*analysis.Image, []budget.Result) {
	t.Helper()
	var images []*analysis.Image
	for _, c := range []struct {
		name string
		img  v1.Image
		how  analysis.Compression
		only bool
	}{
		{"alpine-like:1", it.Alpine(t), analysis.Computed, false},
		{"scratch|app", it.Scratch(t), analysis.Computed, false},
		{"wasteful:1", wasteful(t), analysis.Stored, false},
		{"wasteful:1 manifest", wasteful(t), analysis.Stored, true},
	} {
		a, err := analysis.Analyze(context.Background(), c.img, analysis.Options{Largest: 3, Compression: c.how, ManifestOnly: c.only})
		if err != nil {
			t.Fatal(err)
		}
		a.Name, a.Source = c.name, "docker-archive"
		images = append(images, a)
	}
	results := budget.Evaluate(images, budget.Rules{MaxSize: 250_000, Forbid: []analysis.Kind{analysis.Shell}})
	return images, results
}

// wasteful replaces a file and removes a directory in its second layer:
// dive counts both as wasted.
func wasteful(t *testing.T) v1.Image {
	return it.Image(t, v1.Config{User: "1000", Labels: map[string]string{"org.opencontainers.image.revision": "abc123", "tier": "web"}},
		it.By("ADD base", it.Layer(t, it.File("app", 1000), it.Dir("cache"), it.File("cache/a", 300), it.File("cache/b", 200))),
		it.By("RUN update", it.Layer(t, it.File("app", 1200), it.Whiteout("", "cache"))),
	)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestTable(t *testing.T) {
	images, results := fixture(t)
	var out bytes.Buffer
	if err := Write(&out, "table", images, results); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", out.Bytes())
}

func TestMarkdown(t *testing.T) {
	images, results := fixture(t)
	var out bytes.Buffer
	if err := Write(&out, "markdown", images, results); err != nil {
		t.Fatal(err)
	}
	golden(t, "markdown.golden", out.Bytes())
	// A | in an image name must not break the table.
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| `scratch") && strings.Count(line, " | ") != 16 {
			t.Errorf("row has the wrong number of cells: %s", line)
		}
	}
}

func TestSVG(t *testing.T) {
	images, _ := fixture(t)
	var out bytes.Buffer
	if err := Write(&out, "svg", images, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "sizes.svg.golden", out.Bytes())
	// It is well-formed XML, and the name with | reads back intact.
	dec := xml.NewDecoder(bytes.NewReader(out.Bytes()))
	var texts []string
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
		if cd, ok := tok.(xml.CharData); ok {
			texts = append(texts, string(cd))
		}
	}
	if !strings.Contains(strings.Join(texts, "\n"), "scratch|app") {
		t.Error("SVG lacks the image name")
	}
}

func TestJSON(t *testing.T) {
	images, results := fixture(t)
	var out bytes.Buffer
	if err := Write(&out, "json", images, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema string
		Images []struct {
			Name string
			Size struct {
				Uncompressed, Compressed int64
				CompressedSource         string   `json:"compressed_source"`
				Formats                  []string `json:"compression_formats"`
			}
			Waste struct {
				Efficiency  float64
				WastedBytes int64 `json:"wasted_bytes"`
				Paths       []any `json:"wasted_paths"`
			}
			Reduction *struct {
				Baseline     string
				Uncompressed struct{ Percent, Factor float64 }
			}
			Layers []struct {
				DiffID       string `json:"diff_id"`
				Uncompressed int64
				CreatedBy    string `json:"created_by"`
			}
			Files   int
			Largest []struct {
				Path string
				Size int64
			} `json:"largest_files"`
			Config struct {
				User        string
				Root        bool
				Healthcheck []string
			}
			Findings []struct{ Kind, Path string }
		}
		Violations []struct{ Image, Rule, Message string }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if doc.Schema != "imgcompare/v2" || len(doc.Images) != 4 {
		t.Fatalf("schema %q with %d images", doc.Schema, len(doc.Images))
	}
	base, scratch := doc.Images[0], doc.Images[1]
	if base.Reduction != nil {
		t.Error("the baseline has a reduction")
	}
	if scratch.Reduction == nil || scratch.Reduction.Baseline != "alpine-like:1" {
		t.Fatalf("scratch reduction = %+v", scratch.Reduction)
	}
	if got := scratch.Reduction.Uncompressed.Factor; got < 2.9 || got > 3 {
		t.Errorf("reduction factor = %v, want 880007/300000", got)
	}
	if base.Size.Uncompressed != 880_007 || scratch.Size.Uncompressed != 300_000 || scratch.Size.CompressedSource != "computed" || strings.Join(scratch.Size.Formats, ",") != "gzip" {
		t.Errorf("sizes = %+v, %+v", base.Size, scratch.Size)
	}
	if len(scratch.Layers) != 1 || !strings.HasPrefix(scratch.Layers[0].DiffID, "sha256:") || scratch.Layers[0].CreatedBy != "COPY /out/app /app" {
		t.Errorf("layers = %+v", scratch.Layers)
	}
	if !base.Config.Root || scratch.Config.Root || scratch.Config.User != "65532:65532" || len(scratch.Config.Healthcheck) != 3 {
		t.Errorf("configs = %+v, %+v", base.Config, scratch.Config)
	}
	if len(base.Findings) == 0 || len(scratch.Findings) != 0 {
		t.Errorf("findings = %v, %v", base.Findings, scratch.Findings)
	}
	if scratch.Waste.Efficiency != 1 || scratch.Waste.WastedBytes != 0 || scratch.Waste.Paths == nil {
		t.Errorf("waste = %+v, want an efficient image with an empty list", scratch.Waste)
	}
	if len(doc.Violations) != 1 || doc.Violations[0].Image != "scratch|app" || doc.Violations[0].Rule != "max-size" {
		t.Errorf("violations = %+v", doc.Violations)
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, "yaml", nil, nil); err == nil {
		t.Error("no error for an unknown format")
	}
}
