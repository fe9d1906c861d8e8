package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/rastringer/docker_multistage/internal/budget"
)

// TestMarkdownRendersAsGFM renders the markdown report with goldmark's
// GitHub Flavored Markdown tables, as a pull-request comment is rendered:
// every line after a table that is not a row must stay out of the table.
func TestMarkdownRendersAsGFM(t *testing.T) {
	images, results := fixture(t)
	var md bytes.Buffer
	if err := Markdown(&md, images, budget.Violations(results)); err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.Table)).Convert(md.Bytes(), &html); err != nil {
		t.Fatal(err)
	}
	for _, table := range strings.Split(html.String(), "<table>")[1:] {
		table, _, _ = strings.Cut(table, "</table>")
		for _, text := range []string{"Labels:", "Efficiency ", "Manifest only"} {
			if regexp.MustCompile(`<td[^>]*>` + regexp.QuoteMeta(text)).MatchString(table) {
				t.Errorf("the line %q renders as a table row", text)
			}
		}
	}
}
