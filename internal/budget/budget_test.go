package budget

import (
	"context"
	"strings"
	"testing"

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
			got := Check(tt.images, tt.rules)
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
	for in, want := range map[string]float64{"90%": 0.9, "0.9": 0.9, "1": 1, " 5 % ": 0.05} {
		if got, err := ParseFraction(in, false); err != nil || got != want {
			t.Errorf("ParseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := ParseFraction("250%", true); err != nil || got != 2.5 {
		t.Errorf("ParseFraction(250%%, over one) = %v, %v", got, err)
	}
	for _, in := range []string{"", "0", "-1%", "150%", "2", "x", "Inf%"} {
		if _, err := ParseFraction(in, false); err == nil {
			t.Errorf("ParseFraction(%q): no error", in)
		}
	}
	if _, err := ParseFraction("2", true); err == nil {
		t.Error("a fraction over 1 was taken")
	}
}
