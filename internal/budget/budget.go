// Package budget holds the rules a CI job sets for its images, maximum
// sizes, a minimum reduction and findings it forbids, and checks images
// against them.
package budget

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/diff"
	"github.com/rastringer/docker_multistage/internal/size"
)

// Rules is a budget. Zero values are rules not set.
type Rules struct {
	MaxSize           int64
	MaxCompressedSize int64
	MinReduction      float64 // percent, against the first image
	Forbid            []analysis.Kind
	// ForbidPackages are package names no image may hold.
	ForbidPackages []string
	// dive's rules, lowestEfficiency, highestWastedBytes and
	// highestUserWastedPercent, nil when not set. They compare exactly
	// (0 is a limit: no waste at all), where dive compares floats.
	MinEfficiency  *big.Rat // a fraction
	MaxWastedBytes *int64
	MaxWastedShare *big.Rat // a fraction of the bytes above the first layer
	// What an image's build could give back (analysis.Advise): at most so
	// many bytes, or so large a share of its size; nil when not set.
	MaxReclaimable      *int64
	MaxReclaimableShare *big.Rat
	// How much an image may grow over the baseline (the first image):
	// at most so many bytes, or so large a share of the baseline's size;
	// nil when not set.
	MaxGrowth      *int64
	MaxGrowthShare *big.Rat
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

// Result is one rule checked on one image.
type Result struct {
	Image string
	Index int    // the image's place in the images checked
	Rule  string // the flag that set the rule, without dashes
	Limit string // the rule's value as it was read: 8,000,000 B, 95%, shell
	// Violation says how the image breaks the rule; empty when it keeps it.
	Violation string
}

// Passed reports whether the image keeps the rule.
func (r Result) Passed() bool { return r.Violation == "" }

// Violations are the results that broke their rule.
func Violations(results []Result) []Violation {
	var out []Violation
	for _, res := range results {
		if !res.Passed() {
			out = append(out, Violation{res.Image, res.Rule, res.Violation})
		}
	}
	return out
}

// Evaluate checks every rule set, and returns one result per image and
// rule, kept or broken, in the order of the images, then of the flags in
// imgcompare's usage; --forbid gives one result per finding it names.
// With one image the rules apply to it. With several, the first is the
// baseline the others are compared against: the rules apply to the
// others, since the baseline is what they improve on, not what ships.
func Evaluate(images []*analysis.Image, r Rules) []Result {
	if len(images) == 0 {
		return nil
	}
	candidates := images
	if len(images) > 1 {
		candidates = images[1:]
	}
	var out []Result
	for n, img := range candidates {
		index := n + len(images) - len(candidates)
		check := func(rule, limit string, broken bool, violation func() string) {
			res := Result{Image: img.Name, Index: index, Rule: rule, Limit: limit}
			if broken {
				res.Violation = violation()
			}
			out = append(out, res)
		}
		if r.MaxSize > 0 {
			check("max-size", size.Exact(r.MaxSize), img.Size > r.MaxSize, func() string {
				return fmt.Sprintf("uncompressed size %s exceeds %s", size.Exact(img.Size), size.Exact(r.MaxSize))
			})
		}
		if r.MaxCompressedSize > 0 {
			check("max-compressed-size", size.Exact(r.MaxCompressedSize), img.CompressedSize > r.MaxCompressedSize, func() string {
				return fmt.Sprintf("compressed size %s exceeds %s", size.Exact(img.CompressedSize), size.Exact(r.MaxCompressedSize))
			})
		}
		if r.MinReduction != 0 && len(images) > 1 {
			got := analysis.Reduce(images[0].Size, img.Size).Percent
			check("min-reduction", fmt.Sprintf("%g%%", r.MinReduction), got < r.MinReduction, func() string {
				return fmt.Sprintf("%.2f%% smaller than %s, want at least %g%%", got, images[0].Name, r.MinReduction)
			})
		}
		w := img.Waste
		if r.MinEfficiency != nil {
			check("min-efficiency", percent(r.MinEfficiency), ratio(w.Minimums, w.Cumulative, 1).Cmp(r.MinEfficiency) < 0, func() string {
				return fmt.Sprintf("efficiency %.4g%% is below %s", 100*w.Efficiency, percent(r.MinEfficiency))
			})
		}
		if r.MaxWastedBytes != nil {
			check("max-wasted-bytes", size.Exact(*r.MaxWastedBytes), w.WastedBytes > *r.MaxWastedBytes, func() string {
				return fmt.Sprintf("wasted %s exceeds %s", size.Exact(w.WastedBytes), size.Exact(*r.MaxWastedBytes))
			})
		}
		if r.MaxWastedShare != nil {
			broken := w.WastedBytes > 0 && (w.UserSize == 0 || ratio(w.WastedBytes, w.UserSize, 0).Cmp(r.MaxWastedShare) > 0)
			check("max-wasted-percent", percent(r.MaxWastedShare), broken, func() string {
				got := fmt.Sprintf("%.4g%%", w.UserWastedPercent)
				if w.UserSize == 0 {
					got = fmt.Sprintf("%s, but the layers above the first hold no bytes", size.Exact(w.WastedBytes))
				}
				return fmt.Sprintf("wasted %s of the layers above the first exceeds %s", got, percent(r.MaxWastedShare))
			})
		}
		if r.MaxReclaimable != nil || r.MaxReclaimableShare != nil {
			var total int64
			for _, a := range img.Advice {
				total += a.Bytes
			}
			because := func() string {
				if len(img.Advice) == 0 {
					return ""
				}
				a := img.Advice[0]
				return fmt.Sprintf("; the largest, %s %s of layer %d: %s", size.Exact(a.Bytes), a.What, a.Layer, a.Fix)
			}
			if r.MaxReclaimable != nil {
				check("max-reclaimable", size.Exact(*r.MaxReclaimable), total > *r.MaxReclaimable, func() string {
					return fmt.Sprintf("reclaimable %s exceeds %s%s", size.Exact(total), size.Exact(*r.MaxReclaimable), because())
				})
			}
			if r.MaxReclaimableShare != nil {
				check("max-reclaimable", percent(r.MaxReclaimableShare), total > 0 && ratio(total, img.Size, 0).Cmp(r.MaxReclaimableShare) > 0, func() string {
					return fmt.Sprintf("reclaimable %s, %.4g%% of the size, exceeds %s%s", size.Exact(total), 100*float64(total)/float64(max(img.Size, 1)), percent(r.MaxReclaimableShare), because())
				})
			}
		}
		if (r.MaxGrowth != nil || r.MaxGrowthShare != nil) && len(images) > 1 {
			base := images[0]
			grew := img.Size - base.Size
			if r.MaxGrowth != nil {
				check("max-growth", size.Exact(*r.MaxGrowth), grew > *r.MaxGrowth, func() string {
					return fmt.Sprintf("grew %s over %s, more than %s: %s", signedExact(grew), base.Name, size.Exact(*r.MaxGrowth), Growth(base, img))
				})
			}
			if r.MaxGrowthShare != nil {
				check("max-growth", percent(r.MaxGrowthShare), grew > 0 && ratio(grew, base.Size, 1).Cmp(r.MaxGrowthShare) > 0, func() string {
					return fmt.Sprintf("grew %s (%+.4g%%) over %s, more than %s: %s", signedExact(grew), 100*float64(grew)/float64(max(base.Size, 1)), base.Name, percent(r.MaxGrowthShare), Growth(base, img))
				})
			}
		}
		for _, k := range r.Forbid {
			found := img.Of(k)
			check("forbid", string(k), len(found) > 0, func() string { return fmt.Sprintf("%s: %s", k, describe(found)) })
		}
		for _, name := range r.ForbidPackages {
			found := img.Packages.Named([]string{name})
			check("forbid-package", name, len(found) > 0, func() string {
				var parts []string
				for _, p := range found {
					parts = append(parts, fmt.Sprintf("%s %s %s (%s, layer %d)", p.Kind, p.Name, p.Version, size.Exact(p.Bytes), p.Layer))
				}
				return strings.Join(parts, ", ")
			})
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

// ParsePercent parses a percentage such as 95% or 98.5.
func ParsePercent(s string) (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || n <= 0 || n >= 100 {
		return 0, fmt.Errorf("invalid percentage %q: want a number between 0 and 100, such as 95%%", s)
	}
	return n, nil
}

// ParseFraction parses a share as a percentage (90%) or, as dive takes
// it, a fraction (0.9), exactly, and returns the fraction. Zero is a
// share; above 100% is refused unless overOne allows it (waste can exceed
// what the layers hold).
func ParseFraction(s string, overOne bool) (*big.Rat, error) {
	t := strings.TrimSpace(s)
	num, percent := strings.CutSuffix(t, "%")
	num = strings.TrimSpace(num)
	r, ok := new(big.Rat).SetString(num)
	if ok && decimal.MatchString(num) && percent {
		r.Quo(r, big.NewRat(100, 1))
	}
	if !ok || !decimal.MatchString(num) || r.Cmp(big.NewRat(1, 1)) > 0 && !(overOne && percent) {
		return nil, fmt.Errorf("invalid share %q: want a percentage such as 90%% or a fraction such as 0.9", s)
	}
	return r, nil
}

// ParseSizeOrShare parses a limit given as a size (50MB) or, ending in
// %, as a share (see ParseFraction); one of the two results is nil.
func ParseSizeOrShare(s string, overOne bool) (*int64, *big.Rat, error) {
	if strings.HasSuffix(strings.TrimSpace(s), "%") {
		r, err := ParseFraction(s, overOne)
		return nil, r, err
	}
	n, err := size.ParseOrZero(s)
	return &n, nil, err
}

// decimal is a number without sign, exponent or slash.
var decimal = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// ratio is a/b, or ifZero when b is 0.
func ratio(a, b int64, ifZero int64) *big.Rat {
	if b == 0 {
		return big.NewRat(ifZero, 1)
	}
	return big.NewRat(a, b)
}

// percent prints a fraction as a percentage, exactly when it is short.
func percent(r *big.Rat) string {
	p := new(big.Rat).Mul(r, big.NewRat(100, 1))
	return strings.TrimSuffix(strings.TrimRight(p.FloatString(6), "0"), ".") + "%"
}

// ParseForbid parses a comma-separated list of finding kinds.
func ParseForbid(s string) ([]analysis.Kind, error) {
	var out []analysis.Kind
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		k, err := analysis.ParseKind(name)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list of findings")
	}
	return out, nil
}

// signedExact prints a size change with its sign, in bytes too.
func signedExact(n int64) string {
	if n < 0 {
		return "-" + size.Exact(-n)
	}
	return "+" + size.Exact(n)
}

// maxCauses is how many of what grew most a growth names.
const maxCauses = 3

// Growth says what made img grow over base: the base image's layers
// apart from the image's own where it is known which are which, then what
// grew most among the packages, the image's own new layers and the
// directories of unowned bytes.
func Growth(base, img *analysis.Image) string {
	var parts []string
	baseLayers := base.BaseLayers
	if img.BaseFrom == analysis.SharedWithBaseline {
		baseLayers = img.BaseLayers
	}
	switch {
	case img.BaseFrom == analysis.SharedWithBaseline && img.BaseLayers == 0:
		parts = append(parts, "no layer is shared with the baseline (a new base image? --base IMAGE says which layers are its)")
	case img.BaseLayers > 0:
		before := analysis.LayerBytes(base, 1, baseLayers)
		after := analysis.LayerBytes(img, 1, img.BaseLayers)
		own := (img.Size - after) - (base.Size - before)
		parts = append(parts, fmt.Sprintf("the base image (layers 1-%d, %s) %s, the image's own layers %s",
			img.BaseLayers, img.BaseFrom, signedSize(after-before), signedSize(own)))
	}
	type cause struct {
		what  string
		bytes int64
	}
	var causes []cause
	packages, unowned := diff.ComparePackages(base, img)
	for _, p := range packages {
		if p.Delta > 0 {
			causes = append(causes, cause{fmt.Sprintf("%s %s %s %s", p.Kind, p.Name, p.Change, signedSize(p.Delta)), p.Delta})
		}
	}
	for _, u := range unowned {
		if u.Delta > 0 {
			causes = append(causes, cause{fmt.Sprintf("unowned %s %s", u.Dir, signedSize(u.Delta)), u.Delta})
		}
	}
	had := map[string]bool{}
	for _, l := range base.Layers {
		had[l.DiffID] = true
	}
	for i, l := range img.Layers {
		if i >= img.BaseLayers && !had[l.DiffID] && l.Size > 0 {
			what := fmt.Sprintf("layer %d", i+1)
			if l.Instruction != "" {
				what += " (" + l.Instruction + ")"
			}
			causes = append(causes, cause{fmt.Sprintf("%s new %s", what, signedSize(l.Size)), l.Size})
		}
	}
	sort.SliceStable(causes, func(i, j int) bool { return causes[i].bytes > causes[j].bytes })
	var most []string
	for _, c := range causes[:min(len(causes), maxCauses)] {
		most = append(most, c.what)
	}
	if len(most) > 0 {
		parts = append(parts, "most: "+strings.Join(most, ", "))
	}
	if len(parts) == 0 {
		return "nothing grew that a package, layer or directory names"
	}
	return strings.Join(parts, "; ")
}

// signedSize prints a size change with its sign.
func signedSize(n int64) string {
	if n < 0 {
		return "-" + size.Format(-n)
	}
	return "+" + size.Format(n)
}
