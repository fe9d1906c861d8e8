// Package budget holds the rules a CI job sets for its images, maximum
// sizes, a minimum reduction and findings it forbids, and checks images
// against them.
package budget

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
)

// Rules is a budget. Zero values are rules not set.
type Rules struct {
	MaxSize           int64
	MaxCompressedSize int64
	MinReduction      float64 // percent, against the first image
	Forbid            []analysis.Kind
}

// Set reports whether any rule is set.
func (r Rules) Set() bool {
	return r.MaxSize > 0 || r.MaxCompressedSize > 0 || r.MinReduction != 0 || len(r.Forbid) > 0
}

// Violation is one rule one image breaks.
type Violation struct {
	Image   string
	Rule    string // the flag that set the rule, without dashes
	Message string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: --%s: %s", v.Image, v.Rule, v.Message)
}

// Check returns every rule broken. With one image the rules apply to it.
// With several, the first is the baseline the others are compared
// against: the rules apply to the others, since the baseline is what they
// improve on, not what ships.
func Check(images []*analysis.Image, r Rules) []Violation {
	if len(images) == 0 {
		return nil
	}
	candidates := images
	if len(images) > 1 {
		candidates = images[1:]
	}
	var out []Violation
	for _, img := range candidates {
		if r.MaxSize > 0 && img.Size > r.MaxSize {
			out = append(out, Violation{img.Name, "max-size",
				fmt.Sprintf("uncompressed size %s exceeds %s", analysis.FormatBytes(img.Size), analysis.FormatBytes(r.MaxSize))})
		}
		if r.MaxCompressedSize > 0 && img.CompressedSize > r.MaxCompressedSize {
			out = append(out, Violation{img.Name, "max-compressed-size",
				fmt.Sprintf("compressed size %s exceeds %s", analysis.FormatBytes(img.CompressedSize), analysis.FormatBytes(r.MaxCompressedSize))})
		}
		if r.MinReduction != 0 && len(images) > 1 {
			got := analysis.Reduce(images[0].Size, img.Size).Percent
			if got < r.MinReduction {
				out = append(out, Violation{img.Name, "min-reduction",
					fmt.Sprintf("%.2f%% smaller than %s, want at least %g%%", got, images[0].Name, r.MinReduction)})
			}
		}
		for _, k := range r.Forbid {
			found := img.Of(k)
			if len(found) == 0 {
				continue
			}
			out = append(out, Violation{img.Name, "forbid", fmt.Sprintf("%s: %s", k, describe(found))})
		}
	}
	return out
}

func describe(found []analysis.Finding) string {
	const show = 3
	var parts []string
	for i, f := range found {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(found)-show))
			break
		}
		if f.Path == "" {
			parts = append(parts, f.Detail)
		} else {
			parts = append(parts, f.Path)
		}
	}
	return strings.Join(parts, ", ")
}

// Size units: decimal (kB, MB, GB) as Docker prints sizes, binary (KiB,
// MiB, GiB) as memory is counted.
var units = []struct {
	suffix string
	factor float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"t", 1e12},
	{"b", 1},
}

// ParseSize parses a size such as 8MB, 6.5MiB, 512kB or 1048576.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("invalid size %q: want a positive number with a unit such as 8MB or 6.5MiB", s)
	}
	bytes := n * factor
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(math.Round(bytes)), nil
}

// ParsePercent parses a percentage such as 95% or 98.5.
func ParsePercent(s string) (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || n <= 0 || n >= 100 {
		return 0, fmt.Errorf("invalid percentage %q: want a number between 0 and 100, such as 95%%", s)
	}
	return n, nil
}

// ParseForbid parses a comma-separated list of finding kinds.
func ParseForbid(s string) ([]analysis.Kind, error) {
	var out []analysis.Kind
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		k, ok := kindNamed(name)
		if !ok {
			var names []string
			for _, k := range analysis.Kinds {
				names = append(names, string(k))
			}
			return nil, fmt.Errorf("unknown finding %q: want some of %s", name, strings.Join(names, ", "))
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list of findings")
	}
	return out, nil
}

func kindNamed(name string) (analysis.Kind, bool) {
	for _, k := range analysis.Kinds {
		if string(k) == name {
			return k, true
		}
	}
	return "", false
}
