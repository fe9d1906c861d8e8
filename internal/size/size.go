// Package size parses and formats byte sizes: decimal units (kB, MB, GB)
// as Docker prints them, binary units (KiB, MiB, GiB) as memory is
// counted.
package size

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Format formats n in decimal units with three significant digits:
// 6.28 MB, 335 MB, 1.20 GB.
func Format(n int64) string {
	f := float64(n)
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for math.Abs(f) >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	switch {
	case i == 0:
		return fmt.Sprintf("%d B", n)
	case math.Abs(f) >= 100:
		return fmt.Sprintf("%.0f %s", f, units[i])
	case math.Abs(f) >= 10:
		return fmt.Sprintf("%.1f %s", f, units[i])
	default:
		return fmt.Sprintf("%.2f %s", f, units[i])
	}
}

// Exact formats n as Format does, with the exact byte count beside it.
func Exact(n int64) string {
	return fmt.Sprintf("%s (%d bytes)", Format(n), n)
}

var units = []struct {
	suffix string
	factor float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"t", 1e12},
	{"b", 1},
}

// Parse parses a size such as 8MB, 6.5MiB, 512kB or 1048576.
func Parse(s string) (int64, error) { return parse(s, false) }

// ParseOrZero is Parse that takes 0 too (0, 0B), for a limit of nothing.
func ParseOrZero(s string) (int64, error) { return parse(s, true) }

func parse(s string, zero bool) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n == 0 && !zero || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("invalid size %q: want a positive number with a unit such as 8MB or 6.5MiB", s)
	}
	bytes := n * factor
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(math.Round(bytes)), nil
}
