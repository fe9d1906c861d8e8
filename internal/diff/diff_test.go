package diff

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/analysis"
	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

func analyse(t *testing.T, img v1.Image) (*analysis.Image, map[string]analysis.FileInfo) {
	t.Helper()
	files := map[string]analysis.FileInfo{}
	a, err := analysis.Analyze(context.Background(), img, analysis.Options{
		Largest: 5, Compression: analysis.Computed, FileDigests: true,
		Files: func(f analysis.FileInfo) { files[f.Path] = f },
	})
	if err != nil {
		t.Fatal(err)
	}
	return a, files
}

// pair builds two images whose differences are known by construction.
func pair(t *testing.T) (v1.Image, v1.Image) {
	before := it.Image(t, v1.Config{User: "1000", Env: []string{"A=1", "B=2"}, Labels: map[string]string{"rev": "1", "tier": "web"}, Cmd: []string{"/app"}},
		it.By("base", it.Layer(t,
			it.Dir("bin"), it.File("bin/keep", 10), it.File("bin/gone", 300),
			it.Entry{Name: "bin/modes", Size: 5, Mode: 0o644},
			it.Entry{Name: "etc/conf", Content: []byte("aaaa")},
			it.Symlink("bin/link", "keep"),
			it.File("cache/x", 1000), it.File("cache/y", 2000),
		)))
	after := it.Image(t, v1.Config{User: "1000", Env: []string{"A=1", "B=3", "C=4"}, Labels: map[string]string{"rev": "2", "tier": "web"}, Cmd: []string{"/app", "-v"}},
		it.By("base", it.Layer(t,
			it.Dir("bin"), it.File("bin/keep", 10), it.File("bin/new", 4000),
			it.Entry{Name: "bin/modes", Size: 5, Mode: 0o755},
			it.Entry{Name: "etc/conf", Content: []byte("bbbb")},
			it.Symlink("bin/link", "new"),
			it.File("cache/x", 1500),
		)))
	return before, after
}

func summary(r *Result) []string {
	var out []string
	for _, f := range r.Files {
		out = append(out, fmt.Sprintf("%s %s %d %s", f.Kind, f.Path, f.Delta, strings.Join(f.What, "+")))
	}
	return out
}

func TestCompare(t *testing.T) {
	before, after := pair(t)
	a, fa := analyse(t, before)
	b, fb := analyse(t, after)
	r := Compare(a, b, fa, fb, Ignore{})
	want := []string{
		"added /bin/new 4000 ",
		"removed /cache/y -2000 ",
		"changed /cache/x 500 size",
		"removed /bin/gone -300 ",
		"changed /bin/link 0 link",
		"changed /bin/modes 0 mode",
		"changed /etc/conf 0 content",
	}
	if got := summary(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Delta != 4000-2000+500-300 {
		t.Errorf("delta %d", r.Delta)
	}
	var dirs []string
	for _, d := range r.Dirs {
		dirs = append(dirs, fmt.Sprintf("%s +%d -%d ~%d %d", d.Dir, d.Added, d.Removed, d.Changed, d.Delta))
	}
	if got := strings.Join(dirs, ", "); got != "/bin +1 -1 ~2 3700, /cache +0 -1 ~1 -1500, /etc +0 -0 ~1 0" {
		t.Errorf("dirs: %s", got)
	}
	var settings []string
	for _, s := range r.Config {
		settings = append(settings, fmt.Sprintf("%s: %q → %q", s.Field, s.Before, s.After))
	}
	wantConfig := []string{
		`cmd: "[\"/app\"]" → "[\"/app\" \"-v\"]"`,
		`env:B: "2" → "3"`,
		`env:C: "" → "4"`,
		`label:rev: "1" → "2"`,
	}
	if strings.Join(settings, "\n") != strings.Join(wantConfig, "\n") {
		t.Errorf("config:\n%s\nwant:\n%s", strings.Join(settings, "\n"), strings.Join(wantConfig, "\n"))
	}
	if r.Identical() {
		t.Error("different images reported identical")
	}
}

func TestCompareOwner(t *testing.T) {
	a, fa := analyse(t, it.Image(t, v1.Config{}, it.By("x", it.Layer(t, it.File("f", 1)))))
	b, fb := analyse(t, it.Image(t, v1.Config{}, it.By("x", it.Layer(t, it.File("f", 1)))))
	f := fb["/f"]
	f.UID, f.GID = 1000, 1000
	fb["/f"] = f
	if got := summary(Compare(a, b, fa, fb, Ignore{})); strings.Join(got, ",") != "changed /f 0 owner" {
		t.Errorf("got %v", got)
	}
}

func TestIdenticalAndIgnore(t *testing.T) {
	before, after := pair(t)
	a, fa := analyse(t, before)
	if r := Compare(a, a, fa, fa, Ignore{}); !r.Identical() || len(r.Files) != 0 {
		t.Errorf("an image against itself: %v", summary(r))
	}
	b, fb := analyse(t, after)
	var ig Ignore
	for _, s := range []string{"/bin", "/cache/*", "/etc/conf", "label:rev", "env", "cmd"} {
		if err := ig.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if r := Compare(a, b, fa, fb, ig); !r.Identical() {
		t.Errorf("everything that differs ignored, still: %v %v", summary(r), r.Config)
	}
	for _, bad := range []string{"bin", "label:", "colour", "/[x"} {
		if err := ig.Add(bad); err == nil {
			t.Errorf("Add(%q): no error", bad)
		}
	}
}
