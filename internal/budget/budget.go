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
	"github.com/rastringer/docker_multistage/internal/size"
)

// Rules is a budget. Zero values are rules not set.
type Rules struct {
	MaxSize           int64
	MaxCompressedSize int64
	MinReduction      float64 // percent, against the first image
	Forbid            []analysis.Kind
	// dive's rules: lowestEfficiency, highestWastedBytes and
	// highestUserWastedPercent.
	MinEfficiency    float64 // a fraction, as dive gives it
	MaxWastedBytes   int64
	MaxWastedPercent float64 // percent of the bytes above the first layer
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
				fmt.Sprintf("uncompressed size %s exceeds %s", size.Exact(img.Size), size.Exact(r.MaxSize))})
		}
		if r.MaxCompressedSize > 0 && img.CompressedSize > r.MaxCompressedSize {
			out = append(out, Violation{img.Name, "max-compressed-size",
				fmt.Sprintf("compressed size %s exceeds %s", size.Exact(img.CompressedSize), size.Exact(r.MaxCompressedSize))})
		}
		if r.MinReduction != 0 && len(images) > 1 {
			got := analysis.Reduce(images[0].Size, img.Size).Percent
			if got < r.MinReduction {
				out = append(out, Violation{img.Name, "min-reduction",
					fmt.Sprintf("%.2f%% smaller than %s, want at least %g%%", got, images[0].Name, r.MinReduction)})
			}
		}
		if r.MinEfficiency > 0 && img.Waste.Efficiency < r.MinEfficiency {
			out = append(out, Violation{img.Name, "min-efficiency",
				fmt.Sprintf("efficiency %.4g%% is below %.4g%%", 100*img.Waste.Efficiency, 100*r.MinEfficiency)})
		}
		if r.MaxWastedBytes > 0 && img.Waste.WastedBytes > r.MaxWastedBytes {
			out = append(out, Violation{img.Name, "max-wasted-bytes",
				fmt.Sprintf("wasted %s exceeds %s", size.Exact(img.Waste.WastedBytes), size.Exact(r.MaxWastedBytes))})
		}
		if r.MaxWastedPercent > 0 && img.Waste.UserWastedPercent > r.MaxWastedPercent {
			out = append(out, Violation{img.Name, "max-wasted-percent",
				fmt.Sprintf("wasted %.4g%% of the layers above the first exceeds %.4g%%", img.Waste.UserWastedPercent, r.MaxWastedPercent)})
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

// ParsePercent parses a percentage such as 95% or 98.5.
func ParsePercent(s string) (float64, error) {
	n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || n <= 0 || n >= 100 {
		return 0, fmt.Errorf("invalid percentage %q: want a number between 0 and 100, such as 95%%", s)
	}
	return n, nil
}

// ParseFraction parses a share as a percentage (90%) or, as dive takes
// it, a fraction (0.9), and returns the fraction. Above 100% is refused
// unless overOne allows it (waste can exceed what the layers hold).
func ParseFraction(s string, overOne bool) (float64, error) {
	t := strings.TrimSpace(s)
	percent := strings.HasSuffix(t, "%")
	n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
	if percent {
		n /= 100
	}
	if err != nil || n <= 0 || n > 1 && !(overOne && percent) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("invalid share %q: want a percentage such as 90%% or a fraction such as 0.9", s)
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
