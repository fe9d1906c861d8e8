package diff

import (
	"sort"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
)

// PackageChange is one package added, removed or changed (version or
// bytes) from image A to image B. Packages are told by kind and name; a
// name an image holds several times (npm's nested copies) counts as one,
// its versions joined.
type PackageChange struct {
	Kind, Name string
	Change     string // Added, Removed or Changed
	// Before and After are the version and bytes; nil on the side that
	// lacks the package.
	Before, After *PackageSide
	Delta         int64
}

// PackageSide is a package as one image holds it.
type PackageSide struct {
	Version string
	Bytes   int64
}

// UnownedChange is the change of the bytes no package owns under one
// directory.
type UnownedChange struct {
	Dir   string
	Delta int64
}

// ComparePackages compares the packages of a and b: the changes, largest
// first, and the unowned bytes' change by directory. See Result.
func ComparePackages(a, b *analysis.Image) (packages []PackageChange, unowned []UnownedChange) {
	var r Result
	comparePackages(&r, a, b)
	return r.Packages, r.Unowned
}

// comparePackages compares the packages of a and b. The package changes
// and the unowned ones add up to the change of the final filesystem's
// bytes (Packages.Bytes), exactly.
func comparePackages(r *Result, a, b *analysis.Image) {
	before, after := packageSides(a), packageSides(b)
	for key, s := range before {
		kind, name, _ := strings.Cut(key, " ")
		c := PackageChange{Kind: kind, Name: name, Change: Removed, Before: s, Delta: -s.Bytes}
		if t, ok := after[key]; ok {
			if t.Version == s.Version && t.Bytes == s.Bytes {
				continue
			}
			c.Change, c.After, c.Delta = Changed, t, t.Bytes-s.Bytes
		}
		r.Packages = append(r.Packages, c)
	}
	for key, t := range after {
		if _, ok := before[key]; !ok {
			kind, name, _ := strings.Cut(key, " ")
			r.Packages = append(r.Packages, PackageChange{Kind: kind, Name: name, Change: Added, After: t, Delta: t.Bytes})
		}
	}
	sort.Slice(r.Packages, func(i, j int) bool {
		di, dj := abs(r.Packages[i].Delta), abs(r.Packages[j].Delta)
		if di != dj {
			return di > dj
		}
		return r.Packages[i].Kind+" "+r.Packages[i].Name < r.Packages[j].Kind+" "+r.Packages[j].Name
	})
	unowned := map[string]int64{}
	for _, u := range a.Packages.AllUnowned() {
		unowned[u.Dir] -= u.Bytes
	}
	for _, u := range b.Packages.AllUnowned() {
		unowned[u.Dir] += u.Bytes
	}
	for dir, d := range unowned {
		if d != 0 {
			r.Unowned = append(r.Unowned, UnownedChange{dir, d})
		}
	}
	sort.Slice(r.Unowned, func(i, j int) bool {
		di, dj := abs(r.Unowned[i].Delta), abs(r.Unowned[j].Delta)
		if di != dj {
			return di > dj
		}
		return r.Unowned[i].Dir < r.Unowned[j].Dir
	})
	r.PackagesDelta = b.Packages.Attributed - a.Packages.Attributed
	r.UnownedDelta = b.Packages.UnownedBytes - a.Packages.UnownedBytes
}

// packageSides indexes an image's packages by kind and name.
func packageSides(img *analysis.Image) map[string]*PackageSide {
	out := map[string]*PackageSide{}
	for _, p := range img.Packages.All() {
		key := p.Kind + " " + p.Name
		s := out[key]
		if s == nil {
			s = &PackageSide{Version: p.Version}
			out[key] = s
		} else if !strings.Contains(", "+s.Version+", ", ", "+p.Version+", ") {
			s.Version += ", " + p.Version
		}
		s.Bytes += p.Bytes
	}
	return out
}
