package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
)

// JUnit XML, as Jenkins, GitLab and Azure DevOps read test results: one
// test suite per image, its figures as properties, and one test case per
// rule checked on it, failed with the violation. The baseline's suite has
// no test case, since the rules do not apply to it. The document keeps
// both schemas those tools are built on: Jenkins' junit-4.xsd and the
// stricter Windy Road JUnit.xsd (a timestamp without zone, a hostname,
// properties and system-out in every suite, nothing on the root).

// The root has no attributes, which JUnit.xsd forbids there: the totals
// are the suites' sums.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Package    string          `xml:"package,attr"`
	ID         int             `xml:"id,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// now and hostname are when and where the report is written; tests fix
// them.
var (
	now      = time.Now
	hostname = func() string {
		if h, err := os.Hostname(); err == nil && h != "" {
			return h
		}
		return "localhost"
	}
)

// JUnit writes the images and the rules checked on them as JUnit XML.
func JUnit(w io.Writer, images []*analysis.Image, results []budget.Result) error {
	var doc junitSuites
	stamp := now().UTC().Format("2006-01-02T15:04:05")
	host := hostname()
	for i, img := range images {
		s := junitSuite{
			Name: img.Name, Package: "imgcompare", ID: i, Timestamp: stamp, Hostname: host, Time: "0",
			Properties: junitProperties(images, i),
		}
		for _, res := range results {
			if res.Index != i {
				continue
			}
			c := junitCase{Name: fmt.Sprintf("--%s %s", res.Rule, res.Limit), Classname: img.Name, Time: "0"}
			if !res.Passed() {
				c.Failure = &junitFailure{Message: res.Violation, Type: res.Rule, Text: fmt.Sprintf("%s: --%s %s: %s", img.Name, res.Rule, res.Limit, res.Violation)}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitProperties are the figures of image i, as the table shows them,
// in bytes and fractions where the table rounds.
func junitProperties(images []*analysis.Image, i int) []junitProperty {
	img := images[i]
	p := []junitProperty{
		{"source", img.Source},
		{"id", img.ID},
		{"platform", platform(img)},
		{"compressed_size", fmt.Sprint(img.CompressedSize)},
		{"compression", compression(img)},
		{"layers", fmt.Sprint(len(img.Layers))},
		{"user", user(img)},
	}
	if !img.ManifestOnly {
		p = append(p,
			junitProperty{"size", fmt.Sprint(img.Size)},
			junitProperty{"files", fmt.Sprint(img.Files)},
			junitProperty{"efficiency", fmt.Sprintf("%.6f", img.Waste.Efficiency)},
			junitProperty{"wasted_bytes", fmt.Sprint(img.Waste.WastedBytes)},
		)
	}
	if i == 0 && len(images) > 1 {
		p = append(p, junitProperty{"baseline", "true"})
	} else if i > 0 {
		p = append(p, junitProperty{"reduction", reduction(images, i, false)}, junitProperty{"compressed_reduction", reduction(images, i, true)})
	}
	return p
}
