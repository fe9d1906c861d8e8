package budget

import (
	"context"
	"math"
	"math/big"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/analysis"
	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]float64{"95%": 95, "98.5": 98.5, " 90 % ": 90} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "%", "0", "100%", "150", "-5%", "abc"} {
		if _, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q): no error", in)
		}
	}
}

func TestParseForbid(t *testing.T) {
	kinds, err := ParseForbid("shell, package-manager,toolchain,root,setuid,world-writable")
	if err != nil || len(kinds) != 6 {
		t.Errorf("ParseForbid = %v, %v", kinds, err)
	}
	if _, err := ParseForbid("shell,compiler"); err == nil || !strings.Contains(err.Error(), `"compiler"`) {
		t.Errorf("unknown kind: err = %v", err)
	}
	if _, err := ParseForbid(" , "); err == nil {
		t.Error("empty list: no error")
	}
}

// images returns the analysis of the synthetic alpine-like baseline and of
// the scratch image.
func images(t *testing.T) (*analysis.Image, *analysis.Image) {
	t.Helper()
	alpine, err := analysis.Analyze(context.Background(), it.Alpine(t), analysis.Options{Compression: analysis.Computed})
	if err != nil {
		t.Fatal(err)
	}
	alpine.Name = "alpine"
	scratch, err := analysis.Analyze(context.Background(), it.Scratch(t), analysis.Options{Compression: analysis.Computed})
	if err != nil {
		t.Fatal(err)
	}
	scratch.Name = "scratch"
	return alpine, scratch
}

func TestCheck(t *testing.T) {
	alpine, scratch := images(t)
	all := []analysis.Kind{analysis.Shell, analysis.PackageManager, analysis.Toolchain, analysis.Root, analysis.Setuid, analysis.WorldWritable}
	tests := []struct {
		name   string
		images []*analysis.Image
		rules  Rules
		want   []string // violations, as printed
	}{
		{"nothing set", []*analysis.Image{alpine}, Rules{}, nil},
		{"max size passes", []*analysis.Image{scratch}, Rules{MaxSize: 300_000}, nil},
		{"max size fails", []*analysis.Image{scratch}, Rules{MaxSize: 299_999},
			[]string{"scratch: --max-size: uncompressed size 300 kB (300000 bytes) exceeds 300 kB (299999 bytes)"}},
		{"max compressed size passes", []*analysis.Image{scratch}, Rules{MaxCompressedSize: 10_000}, nil},
		{"max compressed size fails", []*analysis.Image{scratch}, Rules{MaxCompressedSize: 100}, []string{"scratch: --max-compressed-size: compressed size"}},
		{"forbid passes", []*analysis.Image{scratch}, Rules{Forbid: all}, nil},
		{"forbid fails", []*analysis.Image{alpine}, Rules{Forbid: all}, []string{
			"alpine: --forbid: shell: /bin/busybox, /bin/sh",
			"alpine: --forbid: package-manager: /lib/apk/db/installed, /sbin/apk",
			"alpine: --forbid: root: runs as root (no user set)",
			"alpine: --forbid: world-writable: /tmp",
		}},
		{"min reduction passes", []*analysis.Image{alpine, scratch}, Rules{MinReduction: 60}, nil},
		{"min reduction fails", []*analysis.Image{alpine, scratch}, Rules{MinReduction: 70},
			[]string{"scratch: --min-reduction: 65.91% smaller than alpine, want at least 70%"}},
		{"the baseline is not gated", []*analysis.Image{alpine, scratch}, Rules{MaxSize: 400_000, Forbid: all}, nil},
		{"but the others are", []*analysis.Image{scratch, alpine}, Rules{MaxSize: 400_000},
			[]string{"alpine: --max-size: uncompressed size 880 kB (880007 bytes) exceeds 400 kB (400000 bytes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Violations(Evaluate(tt.images, tt.rules))
			if len(got) != len(tt.want) {
				t.Fatalf("violations = %v, want %d: %v", got, len(tt.want), tt.want)
			}
			for i, v := range got {
				if !strings.HasPrefix(v.String(), tt.want[i]) {
					t.Errorf("violation %d = %q, want it to start with %q", i, v, tt.want[i])
				}
			}
		})
	}
}

func TestParseFraction(t *testing.T) {
	for in, want := range map[string]string{"90%": "9/10", "0.9": "9/10", "1": "1", " 5 % ": "1/20", "0": "0", "0%": "0", "28.7%": "287/1000", ".5": "1/2"} {
		if got, err := ParseFraction(in, false); err != nil || got.RatString() != want {
			t.Errorf("ParseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := ParseFraction("250%", true); err != nil || got.RatString() != "5/2" {
		t.Errorf("ParseFraction(250%%, over one) = %v, %v", got, err)
	}
	for _, in := range []string{"", "-1%", "150%", "2", "x", "Inf%", "1/3", "1e-2", "+0.5", "%"} {
		if _, err := ParseFraction(in, false); err == nil {
			t.Errorf("ParseFraction(%q): no error", in)
		}
	}
	if _, err := ParseFraction("2", true); err == nil {
		t.Error("a fraction over 1 was taken")
	}
}

// TestDiveRules checks dive's three rules on exact figures: a share equal
// to the limit passes (29,000 of 100,000 bytes under 29%, which a float
// multiply puts above it), a limit of 0 means none at all, and waste in
// layers that hold no bytes above the first breaks any share, as dive's
// infinite percentage does.
func TestDiveRules(t *testing.T) {
	share := func(s string) *big.Rat {
		r, err := ParseFraction(s, true)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	bytes := func(n int64) *int64 { return &n }
	img := func(w analysis.Waste) []*analysis.Image {
		return []*analysis.Image{{Name: "img", Waste: w}}
	}
	exact := analysis.Waste{WastedBytes: 29_000, UserSize: 100_000, UserWastedPercent: 29.000000000000004, Minimums: 71, Cumulative: 100, Efficiency: 0.71}
	none := analysis.Waste{Efficiency: 1}
	cleanup := analysis.Waste{WastedBytes: 5_000, UserWastedPercent: math.Inf(1), Minimums: 5_000, Cumulative: 10_000, Efficiency: 0.5}
	tests := []struct {
		name  string
		waste analysis.Waste
		rules Rules
		want  string // the rule broken, "" for none
	}{
		{"29% of 100,000 is 29,000", exact, Rules{MaxWastedShare: share("29%")}, ""},
		{"as a fraction too", exact, Rules{MaxWastedShare: share("0.29")}, ""},
		{"one byte less", exact, Rules{MaxWastedShare: share("28.999%")}, "max-wasted-percent"},
		{"efficiency at its limit", exact, Rules{MinEfficiency: share("71%")}, ""},
		{"efficiency under it", exact, Rules{MinEfficiency: share("0.7101")}, "min-efficiency"},
		{"no waste allowed, none", none, Rules{MaxWastedBytes: bytes(0), MaxWastedShare: share("0")}, ""},
		{"no waste allowed, bytes", exact, Rules{MaxWastedBytes: bytes(0)}, "max-wasted-bytes"},
		{"no waste allowed, share", exact, Rules{MaxWastedShare: share("0%")}, "max-wasted-percent"},
		{"efficiency 0 passes", exact, Rules{MinEfficiency: share("0")}, ""},
		{"a cleanup-only top layer", cleanup, Rules{MaxWastedShare: share("1000%")}, "max-wasted-percent"},
		{"its bytes", cleanup, Rules{MaxWastedBytes: bytes(5_000)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Violations(Evaluate(img(tt.waste), tt.rules))
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("violations %v, want none", got)
			case tt.want != "" && (len(got) != 1 || got[0].Rule != tt.want):
				t.Errorf("violations %v, want one of --%s", got, tt.want)
			}
		})
	}
	v := Violations(Evaluate(img(cleanup), Rules{MaxWastedShare: share("10%")}))
	if len(v) != 1 || !strings.Contains(v[0].Message, "hold no bytes") {
		t.Errorf("cleanup-only layers: %v", v)
	}
}

// TestMaxReclaimable gates what an image's build could give back, in
// bytes or as a share of its size, and names the largest item.
func TestMaxReclaimable(t *testing.T) {
	img, err := analysis.Analyze(context.Background(), it.Image(t, v1.Config{},
		it.By("COPY app /", it.Layer(t, it.File("app", 9000), it.File("var/cache/apt/archives/x.deb", 1000))),
	), analysis.Options{Compression: analysis.Computed})
	if err != nil {
		t.Fatal(err)
	}
	img.Name = "app"
	n := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		rules Rules
		want  string
	}{
		{Rules{MaxReclaimable: n(1000)}, ""},
		{Rules{MaxReclaimable: n(999)}, "app: --max-reclaimable: reclaimable 1.00 kB (1000 bytes) exceeds 999 B (999 bytes); the largest, 1.00 kB (1000 bytes) apt archives of layer 1: apt-get install --no-install-recommends"},
		{Rules{MaxReclaimableShare: big.NewRat(10, 100)}, ""},
		{Rules{MaxReclaimableShare: big.NewRat(5, 100)}, "app: --max-reclaimable: reclaimable 1.00 kB (1000 bytes), 10% of the size, exceeds 5%"},
	} {
		got := Violations(Evaluate([]*analysis.Image{img}, c.rules))
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%+v: %v, want none", c.rules, got)
		case c.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0].String(), c.want)):
			t.Errorf("%+v: %v, want %q", c.rules, got, c.want)
		}
	}
}

// TestMaxGrowth: a candidate that grew by a package and a layer of its
// own over a baseline on the same base; the violation names the base
// (unchanged) apart from the image's own layers, then the package and
// the layer that grew most. Another base, given with --base, is said to
// be what grew.
func TestMaxGrowth(t *testing.T) {
	status := func(pkgs ...string) it.Entry {
		var s string
		for _, p := range pkgs {
			s += "Package: " + p + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n"
		}
		return it.Entry{Name: "var/lib/dpkg/status", Content: []byte(s)}
	}
	list := func(pkg, file string) it.Entry {
		return it.Entry{Name: "var/lib/dpkg/info/" + pkg + ".list", Content: []byte(file + "\n")}
	}
	base := it.Layer(t, it.File("bin/sh", 1000))
	newBase := it.Layer(t, it.File("bin/sh", 1000), it.File("usr/lib/libnew.so", 50000))
	analyse := func(name string, steps ...it.Step) *analysis.Image {
		img, err := analysis.Analyze(context.Background(), it.Image(t, v1.Config{}, steps...), analysis.Options{Compression: analysis.Computed})
		if err != nil {
			t.Fatal(err)
		}
		img.Name = name
		return img
	}
	v1Image := analyse("app:1", it.By("base", base),
		it.By("RUN apt-get install small", it.Layer(t, status("small"), list("small", "/usr/bin/small"), it.File("usr/bin/small", 2000))))
	v2Image := analyse("app:2", it.By("base", base),
		it.By("RUN apt-get install small big", it.Layer(t, status("small", "big"), list("small", "/usr/bin/small"), list("big", "/usr/lib/big.so"),
			it.File("usr/bin/small", 2000), it.File("usr/lib/big.so", 30000))),
		it.By("COPY data /data", it.Layer(t, it.File("data/blob", 8000))))
	v2Image.BaseLayers, v2Image.BaseFrom = 1, analysis.SharedWithBaseline
	n := func(v int64) *int64 { return &v }
	got := Violations(Evaluate([]*analysis.Image{v1Image, v2Image}, Rules{MaxGrowth: n(10000)}))
	want := "app:2: --max-growth: grew +38.1 kB (38090 bytes) over app:1, more than 10.0 kB (10000 bytes): "
	if len(got) != 1 || !strings.HasPrefix(got[0].String(), want) ||
		!strings.Contains(got[0].String(), "the base image (layers 1-1, shared with the baseline) +0 B, the image's own layers +38") ||
		!strings.Contains(got[0].String(), "most: layer 2 (RUN apt-get install small big) new +32") ||
		!strings.Contains(got[0].String(), "deb big added +30.0 kB") {
		t.Errorf("%v, want %s… naming the base, then big and the new layers", got, want)
	}
	if got := Violations(Evaluate([]*analysis.Image{v1Image, v2Image}, Rules{MaxGrowthShare: big.NewRat(20, 1)})); len(got) != 0 {
		t.Errorf("2000%%: %v, want none", got)
	}
	if got := Violations(Evaluate([]*analysis.Image{v1Image, v2Image}, Rules{MaxGrowthShare: big.NewRat(1, 10)})); len(got) != 1 || !strings.Contains(got[0].String(), "more than 10%") {
		t.Errorf("10%%: %v", got)
	}

	// The same own layers on a new base: the base grew.
	v3Image := analyse("app:3", it.By("base", newBase),
		it.By("RUN apt-get install small", it.Layer(t, status("small"), list("small", "/usr/bin/small"), it.File("usr/bin/small", 2000))))
	v1Image.BaseLayers, v1Image.BaseFrom = 1, "--base base:1"
	v3Image.BaseLayers, v3Image.BaseFrom = 1, "--base base:2"
	got = Violations(Evaluate([]*analysis.Image{v1Image, v3Image}, Rules{MaxGrowth: n(10000)}))
	if len(got) != 1 || !strings.Contains(got[0].String(), "the base image (layers 1-1, --base base:2) +50.0 kB, the image's own layers +0 B") {
		t.Errorf("a new base: %v", got)
	}
}

// TestForbidPackage: a package the rules name fails the image, naming
// its kind, version, bytes and layer; one it does not hold passes.
func TestForbidPackage(t *testing.T) {
	img, err := analysis.Analyze(context.Background(), it.Image(t, v1.Config{},
		it.By("RUN apt-get install gcc-12", it.Layer(t,
			it.Entry{Name: "var/lib/dpkg/status", Content: []byte("Package: gcc-12\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.2.0-14\n")},
			it.Entry{Name: "var/lib/dpkg/info/gcc-12.list", Content: []byte("/usr/bin/gcc-12\n")},
			it.File("usr/bin/gcc-12", 4000))),
	), analysis.Options{Compression: analysis.Computed})
	if err != nil {
		t.Fatal(err)
	}
	img.Name = "app"
	got := Violations(Evaluate([]*analysis.Image{img}, Rules{ForbidPackages: []string{"openssh-server", "gcc-12"}}))
	want := "app: --forbid-package: deb gcc-12 12.2.0-14 (4.00 kB (4000 bytes), layer 1)"
	if len(got) != 1 || got[0].String() != want {
		t.Errorf("%v, want %q", got, want)
	}
}
