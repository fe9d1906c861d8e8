package images

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// hostileName is a file name that is markup: the report must show it as
// text.
const hostileName = `<img src=x onerror="document.body.dataset.pwned=1">`

// browser starts headless Chromium (Debian's) through the DevTools
// protocol, with the flags this machine needs, and records every request
// a page makes.
func browser(t *testing.T) (context.Context, *[]string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		dockertest.Missing(t, "chromium is not installed", "Debian's chromium", "apt-get install chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	var mu sync.Mutex
	var requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return ctx, &requests
}

// box is a treemap box as the page drew it.
type box struct {
	Name   string
	Bytes  float64
	W, H   float64
	IsDir  bool
	Label  string
	Title  string
	Parent string
}

// openReport loads a report in the browser and returns the top level's
// boxes and how long the page took to draw them.
func openReport(t *testing.T, ctx context.Context, file string) ([]box, float64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitVisible(`body[data-ready="true"]`)); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ready, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.now()`))
	if err != nil {
		t.Fatal(err)
	}
	return boxesOf(t, ctx), ready
}

// boxesOf reads the boxes the first image's treemap shows.
func boxesOf(t *testing.T, ctx context.Context) []box {
	t.Helper()
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[]box](`[...document.querySelectorAll("#image-0 .files .treemap > .box")].map(b => ({
		Name: b.dataset.name, Bytes: +b.dataset.bytes, W: b.getBoundingClientRect().width, H: b.getBoundingClientRect().height,
		IsDir: b.classList.contains("dir"), Label: b.textContent, Title: b.title}))`))
	if err != nil {
		t.Fatal(err)
	}
	return boxes
}

// checkAreas checks that the boxes' areas are their bytes' shares of the
// whole, within 1%.
func checkAreas(t *testing.T, name string, boxes []box) {
	t.Helper()
	var area, bytes float64
	for _, b := range boxes {
		area += b.W * b.H
		bytes += b.Bytes
	}
	if len(boxes) == 0 || area == 0 {
		t.Fatalf("%s: no box drawn", name)
	}
	worst := 0.0
	for _, b := range boxes {
		want := b.Bytes / bytes
		got := b.W * b.H / area
		if want > 0.001 { // boxes of a pixel or two round too much to compare
			worst = math.Max(worst, math.Abs(got-want)/want)
		}
	}
	t.Logf("%s: %d boxes at the top level, areas within %.3f%% of their bytes' shares", name, len(boxes), 100*worst)
	if worst > 0.01 {
		t.Errorf("%s: a box's area is %.2f%% off its bytes' share", name, 100*worst)
	}
}

// TestHTMLReportInBrowser opens the HTML reports of the single-stage
// image, the Debian base, an image with a file whose name is markup and
// an image of 150,000 files in headless Chromium: the treemap's boxes
// have the areas their bytes give, a click zooms into a directory and the
// path zooms out, the page makes no request, the hostile name stays text,
// and the pages load quickly and stay small.
func TestHTMLReportInBrowser(t *testing.T) {
	dockertest.BuildImages(t)
	dir := t.TempDir()
	hostile := filepath.Join(dir, "hostile.tar")
	it.DockerSave(t, hostile, []string{"imgcompare-test/hostile:latest"}, it.Image(t, v1.Config{},
		it.By("COPY", it.Layer(t, it.File("srv/"+hostileName, 400000), it.File("srv/other", 100000), it.File("etc/passwd", 500)))))
	var many []it.Entry
	for i := range 150000 {
		many = append(many, it.File(fmt.Sprintf("data/d%03d/f%05d", i%300, i), int64(10+i%97)))
	}
	big := filepath.Join(dir, "many.tar")
	it.DockerSave(t, big, []string{"imgcompare-test/many:latest"}, it.Image(t, v1.Config{}, it.By("COPY", it.Layer(t, many...))))

	ctx, requests := browser(t)
	for _, c := range []struct {
		name, image string
		limit       int64
	}{
		{"single-stage", "docker-daemon:" + dockertest.SingleStage, 1 << 20},
		{"debian", "docker-daemon:" + debianBase(t), 5 << 20},
		{"hostile", hostile, 1 << 20},
		{"150,000 files", big, 5 << 20},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".html")
		stdout, stderr, code := imgcompare(t, "-o", "html", c.image)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.name, code, stderr)
		}
		if err := os.WriteFile(file, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		*requests = nil
		boxes, ms := openReport(t, ctx, file)
		t.Logf("%s: %d bytes of HTML, drawn %.0f ms after the navigation began", c.name, len(stdout), ms)
		if int64(len(stdout)) > c.limit {
			t.Errorf("%s: the report is %d bytes, over %d", c.name, len(stdout), c.limit)
		}
		checkAreas(t, c.name, boxes)
		for _, r := range *requests {
			if r != "file://"+file {
				t.Errorf("%s: the page requested %s", c.name, r)
			}
		}
		if c.name == "hostile" {
			images, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
			if err != nil {
				t.Fatal(err)
			}
			pwned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.pwned || ""`))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, b := range boxes {
				found = found || b.IsDir && b.Name == "srv"
			}
			if images != 0 || pwned != "" || !found {
				t.Errorf("the hostile name: %d img elements, pwned %q, boxes %+v", images, pwned, boxes)
			}
		}
	}

	// A click on the largest directory zooms into it; the path zooms out.
	file := filepath.Join(dir, "hostile.html")
	boxes, _ := openReport(t, ctx, file)
	if err := chromedp.Do(ctx, chromedp.Click(`#image-0 .files .treemap > .box.dir > span`, chromedp.NodeVisible),
		chromedp.WaitVisible(`#image-0 .files[data-path="/srv"]`)); err != nil {
		t.Fatalf("zooming: %v (boxes %+v)", err, boxes)
	}
	zoomed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#image-0 .files").dataset.path`))
	if err != nil {
		t.Fatal(err)
	}
	inside := boxesOf(t, ctx)
	checkAreas(t, "/srv", inside)
	names := map[string]string{}
	for _, b := range inside {
		names[b.Name] = b.Label + "|" + b.Title
	}
	if zoomed != "/srv" || !strings.HasPrefix(names[hostileName], hostileName+" 400 kB|/srv/"+hostileName+"\n400 kB (400000 bytes)") {
		t.Errorf("after the click: path %q, boxes %v; want /srv with the hostile name as text", zoomed, names)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#image-0 .files .crumbs button`, chromedp.NodeVisible), chromedp.WaitVisible(`#image-0 .files[data-path="/"]`)); err != nil {
		t.Errorf("zooming out: %v", err)
	}

	// At a phone's width the page does not scroll sideways, and the
	// treemap fills the width it has.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	narrow, _ := openReport(t, ctx, filepath.Join(dir, "single-stage.html"))
	width, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if err != nil {
		t.Fatal(err)
	}
	checkAreas(t, "single-stage at 390 pixels", narrow)
	if width[0] > width[1] {
		t.Errorf("at 390 pixels the page is %v pixels wide", width)
	}
}
