// Package diff compares two analysed images: the files of their final
// filesystems (added, removed, changed in size, mode, owner, type, link
// target or content), totals per top-level directory, their layers side by
// side, and the configuration a container runs with.
package diff

import (
	"archive/tar"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
)

// Kinds of file change.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// File is one path that differs.
type File struct {
	Path   string
	Kind   string
	Before *analysis.FileInfo // nil when added
	After  *analysis.FileInfo // nil when removed
	// What changed, for a changed path: type, size, mode, owner, link,
	// content.
	What  []string
	Delta int64 // size after minus size before
}

// Dir totals the changes under one top-level directory.
type Dir struct {
	Dir                     string
	Added, Removed, Changed int
	Delta                   int64
}

// Setting is one configuration setting that differs; a missing side is "".
type Setting struct {
	Field, Before, After string
}

// LayerPair is the layers at one position, side by side; a missing side is
// nil.
type LayerPair struct {
	Before, After *analysis.Layer
}

// Result is the difference from image A to image B.
type Result struct {
	A, B   *analysis.Image
	Files  []File // largest size change first
	Dirs   []Dir  // largest size change first
	Config []Setting
	Layers []LayerPair
	// Delta is the change in total file size.
	Delta int64
	// Download is what a host holding A downloads to pull B, and
	// Reverse: what one holding B downloads to pull A
	// (analysis.Download).
	Download, Reverse int64
	// ManifestOnly: the images' files were not read, only their
	// manifests and configs.
	ManifestOnly bool
	// Packages changed, largest change first, and the change of the
	// bytes no package owns, by directory: PackagesDelta + UnownedDelta
	// is the change of the final filesystem's bytes.
	Packages                    []PackageChange
	Unowned                     []UnownedChange
	PackagesDelta, UnownedDelta int64
}

// Identical reports whether the images hold the same files and run with
// the same configuration; layers may still differ (timestamps, order).
//
// Read from their manifests alone, images are identical when they run
// with the same configuration and neither has a blob the other lacks.
func (r *Result) Identical() bool {
	if r.ManifestOnly {
		return len(r.Config) == 0 && r.Download == 0 && r.Reverse == 0
	}
	return len(r.Files) == 0 && len(r.Config) == 0
}

// Ignore lists what a comparison leaves out: paths (glob patterns, a
// directory's pattern covering what is under it), configuration fields
// (user, entrypoint, cmd, env, ports, labels, healthcheck, platform), and
// single labels (label:KEY) or environment variables (env:NAME).
type Ignore struct {
	Paths    []string
	Fields   map[string]bool
	Labels   map[string]bool
	Env      map[string]bool
	Patterns []string // as given, for reports
}

// Fields lists the configuration fields that are compared.
var Fields = []string{"platform", "user", "entrypoint", "cmd", "env", "ports", "labels", "healthcheck"}

// ParseIgnore parses one --ignore value: a path pattern starting with /, a
// field name, label:KEY or env:NAME.
func (ig *Ignore) Add(s string) error {
	if ig.Fields == nil {
		ig.Fields, ig.Labels, ig.Env = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	switch {
	case strings.HasPrefix(s, "/"):
		if _, err := path.Match(s, "/"); err != nil {
			return fmt.Errorf("invalid path pattern %q: %w", s, err)
		}
		ig.Paths = append(ig.Paths, path.Clean(s))
	case strings.HasPrefix(s, "label:") && len(s) > len("label:"):
		ig.Labels[strings.TrimPrefix(s, "label:")] = true
	case strings.HasPrefix(s, "env:") && len(s) > len("env:"):
		ig.Env[strings.TrimPrefix(s, "env:")] = true
	case slices.Contains(Fields, s):
		ig.Fields[s] = true
	default:
		return fmt.Errorf("cannot ignore %q: want a path pattern (/var/cache/*), label:KEY, env:NAME or one of %s", s, strings.Join(Fields, ", "))
	}
	ig.Patterns = append(ig.Patterns, s)
	return nil
}

// ignoresPath reports whether p, or a directory above it, matches a path
// pattern.
func (ig *Ignore) ignoresPath(p string) bool {
	for _, pattern := range ig.Paths {
		for q := p; q != "/"; q = path.Dir(q) {
			if ok, _ := path.Match(pattern, q); ok {
				return true
			}
		}
	}
	return false
}

// Compare computes the difference from A to B, given the files of each.
func Compare(a, b *analysis.Image, filesA, filesB map[string]analysis.FileInfo, ig Ignore) *Result {
	r := &Result{A: a, B: b, Download: analysis.Download(a, b), Reverse: analysis.Download(b, a), ManifestOnly: a.ManifestOnly || b.ManifestOnly}
	dirs := map[string]*Dir{}
	note := func(f File) {
		r.Files = append(r.Files, f)
		r.Delta += f.Delta
		top, _, _ := strings.Cut(strings.TrimPrefix(f.Path, "/"), "/")
		top = "/" + top
		d := dirs[top]
		if d == nil {
			d = &Dir{Dir: top}
			dirs[top] = d
		}
		d.Delta += f.Delta
		switch f.Kind {
		case Added:
			d.Added++
		case Removed:
			d.Removed++
		default:
			d.Changed++
		}
	}
	for p, before := range filesA {
		if ig.ignoresPath(p) {
			continue
		}
		after, ok := filesB[p]
		if !ok {
			note(File{Path: p, Kind: Removed, Before: &before, Delta: -fileSize(before)})
			continue
		}
		if what := changes(before, after); len(what) > 0 {
			note(File{Path: p, Kind: Changed, Before: &before, After: &after, What: what, Delta: fileSize(after) - fileSize(before)})
		}
	}
	for p, after := range filesB {
		if _, ok := filesA[p]; ok || ig.ignoresPath(p) {
			continue
		}
		note(File{Path: p, Kind: Added, After: &after, Delta: fileSize(after)})
	}
	sort.Slice(r.Files, func(i, j int) bool {
		di, dj := abs(r.Files[i].Delta), abs(r.Files[j].Delta)
		if di != dj {
			return di > dj
		}
		return r.Files[i].Path < r.Files[j].Path
	})
	for _, d := range dirs {
		r.Dirs = append(r.Dirs, *d)
	}
	sort.Slice(r.Dirs, func(i, j int) bool {
		di, dj := abs(r.Dirs[i].Delta), abs(r.Dirs[j].Delta)
		if di != dj {
			return di > dj
		}
		return r.Dirs[i].Dir < r.Dirs[j].Dir
	})
	r.Config = compareConfig(a, b, ig)
	comparePackages(r, a, b)
	for i := range max(len(a.Layers), len(b.Layers)) {
		var pair LayerPair
		if i < len(a.Layers) {
			pair.Before = &a.Layers[i]
		}
		if i < len(b.Layers) {
			pair.After = &b.Layers[i]
		}
		r.Layers = append(r.Layers, pair)
	}
	return r
}

// fileSize is what a path adds to an image: a regular file's content.
func fileSize(f analysis.FileInfo) int64 {
	if f.Type == tar.TypeReg {
		return f.Size
	}
	return 0
}

func changes(a, b analysis.FileInfo) []string {
	var what []string
	if a.Type != b.Type {
		return []string{"type"}
	}
	if a.Size != b.Size {
		what = append(what, "size")
	}
	if a.Mode != b.Mode {
		what = append(what, "mode")
	}
	if a.UID != b.UID || a.GID != b.GID {
		what = append(what, "owner")
	}
	if a.Link != b.Link {
		what = append(what, "link")
	}
	if a.Digest != b.Digest && a.Size == b.Size {
		what = append(what, "content")
	}
	return what
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func compareConfig(a, b *analysis.Image, ig Ignore) []Setting {
	var out []Setting
	field := func(name, before, after string) {
		if before != after && !ig.Fields[name] {
			out = append(out, Setting{name, before, after})
		}
	}
	field("platform", platform(a), platform(b))
	field("user", a.User, b.User)
	field("entrypoint", quoted(a.Entrypoint), quoted(b.Entrypoint))
	field("cmd", quoted(a.Cmd), quoted(b.Cmd))
	field("ports", strings.Join(a.Ports, " "), strings.Join(b.Ports, " "))
	field("healthcheck", quoted(a.Healthcheck), quoted(b.Healthcheck))
	if !ig.Fields["env"] {
		envA, envB := envMap(a.Env), envMap(b.Env)
		for _, k := range unionKeys(envA, envB) {
			if !ig.Env[k] && envA[k] != envB[k] {
				out = append(out, Setting{"env:" + k, envA[k], envB[k]})
			}
		}
	}
	if !ig.Fields["labels"] {
		for _, k := range unionKeys(a.Labels, b.Labels) {
			if !ig.Labels[k] && a.Labels[k] != b.Labels[k] {
				out = append(out, Setting{"label:" + k, a.Labels[k], b.Labels[k]})
			}
		}
	}
	return out
}

func platform(img *analysis.Image) string {
	p := img.OS + "/" + img.Architecture
	if img.Variant != "" {
		p += "/" + img.Variant
	}
	return p
}

func quoted(s []string) string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("%q", s)
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func unionKeys(a, b map[string]string) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
