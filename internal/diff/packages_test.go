package diff

import (
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// dpkgImage is a tree with dpkg's database for packages (name, version,
// path and bytes of its one file) and files no package owns.
func dpkgImage(t *testing.T, unowned map[string]int64, packages ...[4]string) v1.Image {
	var status string
	var entries []it.Entry
	for _, p := range packages {
		status += fmt.Sprintf("Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: %s\n\n", p[0], p[1])
		entries = append(entries, it.Entry{Name: "var/lib/dpkg/info/" + p[0] + ".list", Content: []byte(p[2] + "\n")})
		var n int64
		fmt.Sscan(p[3], &n)
		entries = append(entries, it.File(p[2][1:], n))
	}
	for name, n := range unowned {
		entries = append(entries, it.File(name, n))
	}
	entries = append(entries, it.Entry{Name: "var/lib/dpkg/status", Content: []byte(status)})
	return it.Image(t, v1.Config{}, it.By("debootstrap", it.Layer(t, entries...)))
}

// TestComparePackages: a package upgraded, one removed, one added, one
// the same, and unowned bytes changed; the package changes and the
// unowned ones add up to the change of the final filesystem's bytes.
func TestComparePackages(t *testing.T) {
	a, filesA := analyse(t, dpkgImage(t, map[string]int64{"etc/hostname": 10, "srv/data": 100},
		[4]string{"x", "1.0", "/usr/lib/x.so", "1000"}, [4]string{"y", "2.0", "/usr/bin/y", "500"}, [4]string{"same", "1", "/usr/bin/same", "70"}))
	b, filesB := analyse(t, dpkgImage(t, map[string]int64{"etc/hostname": 10, "srv/data": 400},
		[4]string{"x", "1.1", "/usr/lib/x.so", "1200"}, [4]string{"z", "0.1", "/usr/bin/z", "300"}, [4]string{"same", "1", "/usr/bin/same", "70"}))
	r := Compare(a, b, filesA, filesB, Ignore{})
	var got []string
	var sum int64
	for _, p := range r.Packages {
		got = append(got, fmt.Sprintf("%s %s %s %d %s", p.Change, p.Kind, p.Name, p.Delta, versions(p)))
		sum += p.Delta
	}
	want := "[removed deb y -500 2.0 added deb z 300 0.1 changed deb x 200 1.0→1.1]"
	if fmt.Sprint(got) != want {
		t.Errorf("package changes %v, want %s", got, want)
	}
	if sum != r.PackagesDelta || r.PackagesDelta+r.UnownedDelta != b.Packages.Bytes-a.Packages.Bytes || r.PackagesDelta != 0 {
		t.Errorf("packages %d (summed %d) + unowned %d, want %d", r.PackagesDelta, sum, r.UnownedDelta, b.Packages.Bytes-a.Packages.Bytes)
	}
	var unowned []string
	for _, u := range r.Unowned {
		unowned = append(unowned, fmt.Sprintf("%s %d", u.Dir, u.Delta))
	}
	// The data grew by 300; dpkg's status changed with the names.
	if len(unowned) == 0 || unowned[0] != "/srv 300" {
		t.Errorf("unowned changes %v, want /srv +300 first", unowned)
	}
}

// versions says a package's versions, before→after.
func versions(p PackageChange) string {
	switch {
	case p.Before == nil:
		return p.After.Version
	case p.After == nil:
		return p.Before.Version
	case p.Before.Version != p.After.Version:
		return p.Before.Version + "→" + p.After.Version
	}
	return p.After.Version
}
