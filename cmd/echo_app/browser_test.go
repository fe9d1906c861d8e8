package main

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds the headless browser. Outside CI a missing browser skips
// the test with a message; in CI it fails, since .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("an integration test (Chromium): make test runs it")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: .ci/run must install Debian's chromium package")
	}
	t.Skip("SKIPPED: chromium not found; install it (apt-get install chromium) to run the browser test")
	return ""
}

// browse runs headless Chromium on url with the given extra flags and
// returns its standard output.
func browse(t *testing.T, browser, url string, flags ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}, flags...)
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return string(out)
}

// TestBrowser loads pages in a real browser and reads the DOM it rendered:
// the greeting shows, and a noun that tries script injection shows as text
// without creating any element.
func TestBrowser(t *testing.T) {
	browser := chromium(t)
	in := start(t)
	base := "http://" + in.addr

	dom := browse(t, browser, base+"/alpacas", "--dump-dom")
	if !strings.Contains(dom, `<h1>I love <strong id="noun">alpacas</strong>!</h1>`) {
		t.Errorf("/alpacas: rendered DOM lacks the greeting:\n%s", dom)
	}
	if !strings.Contains(dom, "<title>I love alpacas!</title>") {
		t.Errorf("/alpacas: rendered DOM lacks the title:\n%s", dom)
	}

	attack := "/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
	dom = browse(t, browser, base+attack, "--dump-dom")
	if !strings.Contains(dom, `<strong id="noun">&lt;img src=x onerror=alert(1)&gt;</strong>`) {
		t.Errorf("injection attempt: the noun is not shown as escaped text:\n%s", dom)
	}
	if strings.Contains(strings.ToLower(dom), "<img") || strings.Contains(strings.ToLower(dom), "<script") {
		t.Errorf("injection attempt: the rendered DOM holds an injected element:\n%s", dom)
	}

	shot := filepath.Join(t.ArtifactDir(), "alpacas.png")
	browse(t, browser, base+"/alpacas", "--screenshot="+shot, "--window-size=800,500", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 500 {
		t.Errorf("screenshot is %dx%d, want 800x500", b.Dx(), b.Dy())
	}
	t.Logf("screenshot: %s", shot)
}
