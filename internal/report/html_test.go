package report

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/analysis"
	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// TestHTMLEscapes writes the page of an image whose name, layer
// instruction and file names are markup: none reaches the page as
// markup, only as data the script reads (escaped JSON); the policy
// forbids every request and allows only the page's own script, by its
// hash.
func TestHTMLEscapes(t *testing.T) {
	const evil = `</script><img src=x onerror=alert(1)>`
	img, err := analysis.Analyze(context.Background(), it.Image(t, v1.Config{},
		it.By("RUN "+evil, it.Layer(t, it.File("srv/"+evil, 5000), it.File("tmp/"+evil, 300))),
	), analysis.Options{Largest: 3, Compression: analysis.Computed, Tree: true})
	if err != nil {
		t.Fatal(err)
	}
	img.Name = evil
	var out bytes.Buffer
	if err := HTML(&out, []*analysis.Image{img}, nil); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if strings.Contains(page, "<img") || strings.Count(page, "</script>") != 2 {
		t.Errorf("markup from the image reached the page:\n%s", page)
	}
	policy := regexp.MustCompile(`content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/=]+'; img-src 'none'; connect-src 'none'`)
	if !policy.MatchString(page) {
		t.Errorf("no Content-Security-Policy forbidding requests:\n%s", page[:600])
	}
	if !strings.Contains(page, `\u003c/script\u003e\u003cimg`) {
		t.Errorf("the name is not in the data, escaped")
	}
	if !strings.Contains(page, "'"+csp(htmlScript)+"'") || !strings.Contains(page, "<script>"+htmlScript+"</script>") {
		t.Errorf("the policy does not name the script's hash")
	}
}
