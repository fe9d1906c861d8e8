package analysis

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"regexp"
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

// A shell, package manager or toolchain is found where an image can run
// it: an executable regular file that is an ELF binary or a script (#!),
// or a symlink that resolves to one inside the image, in a directory a
// PATH reaches (see onPath), with a name of its kind. Files that only carry
// such a name (Debian's /usr/share/menu/bash, /etc/logrotate.d/apt, a
// shell's completion file, an executable text file) are not programs.
var (
	shells = map[string]bool{
		"sh": true, "bash": true, "rbash": true, "ash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "busybox": true,
	}
	packageManagers = map[string]bool{
		"apk": true, "apt": true, "apt-get": true, "dpkg": true, "rpm": true, "yum": true, "dnf": true, "microdnf": true,
	}
	// toolchains are compilers by name, with the target triplet and the
	// version distributions put around it: gcc, gcc-12,
	// x86_64-linux-gnu-g++-12, x86_64-alpine-linux-musl-gcc, clang-17,
	// go1.22.
	toolchains = regexp.MustCompile(`^(?:[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(?:-[a-z0-9_]+)?-)?` +
		`(?:go|gccgo|gcc|cc|c\+\+|g\+\+|clang|clang\+\+|rustc|cargo|javac|tcc|gfortran)(?:-?[0-9]+(?:\.[0-9]+)*)?$`)
	// packageDatabases are the files a package manager keeps its state in:
	// their presence means a package-managed base image.
	packageDatabases = map[string]string{
		"/lib/apk/db/installed":     "apk database",
		"/var/lib/dpkg/status":      "dpkg database",
		"/var/lib/rpm/Packages":     "rpm database",
		"/var/lib/rpm/rpmdb.sqlite": "rpm database",
	}
)

// onPath reports whether p is in a directory a PATH reaches: one named bin
// or sbin (/bin, /usr/local/go/bin, /usr/lib/jvm/…/bin), or /busybox, where
// distroless debug images keep their shell.
func onPath(p string) bool {
	dir := path.Dir(p)
	base := path.Base(dir)
	return base == "bin" || base == "sbin" || dir == "/busybox"
}

// maxSymlinks bounds the links followed to resolve one path, as Linux does.
const maxSymlinks = 40

// program returns what the file at p runs, if it is a program: itself if it
// is an executable regular file, or the executable regular file a symlink
// resolves to inside the image, every component of its target followed
// (see follow). ok is false for anything else, a dangling or looping link
// among them.
func program(fs *fsTree, p string, e *node) (target string, ok bool) {
	links := 0
	for {
		switch e.typeflag {
		case tar.TypeReg:
			return p, e.mode&0o111 != 0 && e.runs
		case tar.TypeSymlink:
			if links++; links > maxSymlinks {
				return "", false
			}
			next := e.linkname
			if !path.IsAbs(next) {
				next = path.Dir(p) + "/" + next
			}
			if p, e = fs.follow(next, &links); e == nil {
				return "", false
			}
		default:
			return "", false
		}
	}
}

// runs reports whether the start of a file's content is what Linux
// executes: an ELF header or a script's #!.
func runs(head []byte) bool {
	return bytes.HasPrefix(head, []byte("\x7fELF")) || bytes.HasPrefix(head, []byte("#!"))
}

// programKind returns the kind of the program named base, if it is one.
func programKind(base string) (Kind, bool) {
	switch {
	case shells[base]:
		return Shell, true
	case packageManagers[base]:
		return PackageManager, true
	case toolchains.MatchString(base):
		return Toolchain, true
	}
	return "", false
}

// deviceNode reports whether p is a device or FIFO under /dev: a container
// runtime mounts a fresh /dev over the image's, so their modes in the image
// never reach a container.
func deviceNode(p string, e *node) bool {
	switch e.typeflag {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return strings.HasPrefix(p, "/dev/")
	}
	return false
}

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
		if kind, ok := programKind(path.Base(p)); ok && onPath(p) {
			if target, ok := program(fs, p, e); ok {
				f := Finding{Kind: kind, Path: p}
				if target != p {
					f.Detail = "→ " + target
				}
				out = append(out, f)
			}
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
		if e.typeflag != tar.TypeSymlink && e.mode&0o002 != 0 && !deviceNode(p, e) {
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
	// A database is looked for where the package manager opens it, its
	// directories followed: /var/lib/dpkg may be a link.
	for p, what := range packageDatabases {
		links := 0
		if _, e := fs.follow(p, &links); e != nil && e.typeflag == tar.TypeReg {
			out = append(out, Finding{Kind: PackageManager, Path: p, Detail: what})
		}
	}
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
