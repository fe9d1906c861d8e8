package analysis

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Kind names a finding. The kinds are also the names --forbid takes.
type Kind string

// The kinds of finding.
const (
	Shell          Kind = "shell"
	PackageManager Kind = "package-manager"
	Toolchain      Kind = "toolchain"
	Setuid         Kind = "setuid"
	WorldWritable  Kind = "world-writable"
	Root           Kind = "root"
)

// Kinds lists every kind, in the order reports show them.
var Kinds = []Kind{Shell, PackageManager, Toolchain, Root, Setuid, WorldWritable}

// KindNames lists the kinds, separated by commas.
func KindNames() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ",")
}

// ParseKind returns the kind of a name.
func ParseKind(name string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == name {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown finding %q: want some of %s", name, strings.ReplaceAll(KindNames(), ",", ", "))
}

// Finding is something in an image that a production image should not
// hold, with where it is.
type Finding struct {
	Kind   Kind
	Path   string // empty for Root, which is about the config
	Detail string
}

// Executables by base name: an image that holds one can run it.
var (
	shells = map[string]bool{
		"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "busybox": true,
	}
	packageManagers = map[string]bool{
		"apk": true, "apt": true, "apt-get": true, "dpkg": true, "rpm": true, "yum": true, "dnf": true, "microdnf": true,
	}
	toolchains = map[string]bool{
		"go": true, "gcc": true, "cc": true, "c++": true, "g++": true, "clang": true, "rustc": true, "cargo": true, "javac": true,
	}
	// packageDatabases are the files a package manager keeps its state in:
	// their presence means a package-managed base image.
	packageDatabases = map[string]string{
		"/lib/apk/db/installed":     "apk database",
		"/var/lib/dpkg/status":      "dpkg database",
		"/var/lib/rpm/Packages":     "rpm database",
		"/var/lib/rpm/rpmdb.sqlite": "rpm database",
	}
)

// findings lists, in a stable order, what the final filesystem and the
// config hold that a production image should not.
func findings(fs *fsTree, img *Image) []Finding {
	var out []Finding
	if img.Root {
		user := img.User
		if user == "" {
			user = "no user set"
		}
		out = append(out, Finding{Kind: Root, Detail: fmt.Sprintf("runs as root (%s)", user)})
	}
	fs.walk(func(p string, e *node) {
		executable := e.typeflag == tar.TypeReg || e.typeflag == tar.TypeSymlink
		base := path.Base(p)
		switch {
		case executable && shells[base]:
			out = append(out, Finding{Kind: Shell, Path: p})
		case executable && packageManagers[base]:
			out = append(out, Finding{Kind: PackageManager, Path: p})
		case executable && toolchains[base]:
			out = append(out, Finding{Kind: Toolchain, Path: p})
		}
		if what, ok := packageDatabases[p]; ok {
			out = append(out, Finding{Kind: PackageManager, Path: p, Detail: what})
		}
		if e.typeflag == tar.TypeReg && e.mode&(0o4000|0o2000) != 0 {
			detail := "setuid"
			switch {
			case e.mode&0o4000 != 0 && e.mode&0o2000 != 0:
				detail = "setuid and setgid"
			case e.mode&0o2000 != 0:
				detail = "setgid"
			}
			out = append(out, Finding{Kind: Setuid, Path: p, Detail: detail})
		}
		if e.typeflag != tar.TypeSymlink && e.mode&0o002 != 0 {
			detail := "file"
			if e.typeflag == tar.TypeDir {
				detail = "directory"
				if e.mode&0o1000 != 0 {
					detail = "directory, sticky"
				}
			}
			out = append(out, Finding{Kind: WorldWritable, Path: p, Detail: detail})
		}
	})
	order := map[Kind]int{}
	for i, k := range Kinds {
		order[k] = i
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return order[out[i].Kind] < order[out[j].Kind]
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// Has reports whether the image has a finding of the kind.
func (img *Image) Has(k Kind) bool {
	for _, f := range img.Findings {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// Of returns the image's findings of the kind.
func (img *Image) Of(k Kind) []Finding {
	var out []Finding
	for _, f := range img.Findings {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// Reduction is how much smaller an image is than a baseline.
type Reduction struct {
	Percent float64 // 98.1 means 98.1% smaller; negative when larger
	Factor  float64 // baseline size divided by this size
}

// Reduce compares size against baseline.
func Reduce(baseline, size int64) Reduction {
	var r Reduction
	if baseline > 0 {
		r.Percent = 100 * (1 - float64(size)/float64(baseline))
	}
	if size > 0 {
		r.Factor = float64(baseline) / float64(size)
	}
	return r
}
