package analysis

import (
	"archive/tar"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Reclaimable is a part of the final filesystem an image need not ship:
// bytes still visible, so never counted as hidden or as waste, that a
// build leaves behind (package indexes and caches, temporary files) or
// that only building needs (a toolchain, headers, static libraries).
type Reclaimable struct {
	Kind  string
	Path  string // the directory it lies in, or one file
	Bytes int64
	Files int
	// Layer, from 1, wrote most of its bytes.
	Layer int
}

// The kinds, in the order reports list them when their bytes are equal.
const (
	AptLists      = "apt lists"
	AptArchives   = "apt archives"
	ApkCache      = "apk cache"
	PipCache      = "pip cache"
	NpmCache      = "npm cache"
	YarnCache     = "yarn cache"
	GoBuildCache  = "Go build cache"
	GoModuleCache = "Go module cache"
	UserCache     = "user cache"
	TempFiles     = "temporary files"
	GoToolchain   = "Go toolchain"
	CToolchain    = "C toolchain"
	Headers       = "headers"
	StaticLibs    = "static libraries"
)

// home matches a user's home directory: /root or /home/NAME.
const home = `/(?:root|home/[^/]+)`

// reclaimRules name a path's kind by the directory it lies in; the first
// that matches wins. Each gives the directory as its first group.
var reclaimRules = []struct {
	kind string
	re   *regexp.Regexp
}{
	{AptLists, regexp.MustCompile(`^(/var/lib/apt/lists)/`)},
	{AptArchives, regexp.MustCompile(`^(/var/cache/apt)/`)},
	{ApkCache, regexp.MustCompile(`^(/var/cache/apk)/`)},
	{PipCache, regexp.MustCompile(`^(` + home + `/\.cache/pip)/`)},
	{NpmCache, regexp.MustCompile(`^(` + home + `/\.npm)/`)},
	{YarnCache, regexp.MustCompile(`^(` + home + `/\.cache/yarn|/usr/local/share/\.cache/yarn)/`)},
	{GoBuildCache, regexp.MustCompile(`^(` + home + `/\.cache/go-build)/`)},
	{GoModuleCache, regexp.MustCompile(`^((?:/go|` + home + `/go)/pkg/mod)/`)},
	{UserCache, regexp.MustCompile(`^(` + home + `/\.cache)/`)},
	{TempFiles, regexp.MustCompile(`^(/tmp|/var/tmp)/`)},
	{CToolchain, regexp.MustCompile(`^(/usr/lib/gcc|/usr/libexec/gcc|/usr/lib/gcc-cross)/`)},
	{Headers, regexp.MustCompile(`^(/usr/include|/usr/local/include)/`)},
}

// reclaimable finds what the final filesystem holds that the image need
// not ship, a line per kind and directory, largest first.
func reclaimable(fs *fsTree) []Reclaimable {
	goroots := goToolchains(fs)
	type key struct{ kind, dir string }
	found := map[key]*Reclaimable{}
	byLayer := map[key]map[int]int64{}
	seen := map[*inode]bool{}
	fs.walk(func(p string, n *node) {
		if n.typeflag != tar.TypeReg && n.typeflag != tar.TypeSymlink {
			return
		}
		b := n.bytes()
		if n.typeflag == tar.TypeReg {
			// A file of several names counts once, as Size counts it.
			if seen[n.inode] {
				return
			}
			seen[n.inode] = true
			b = n.size
		}
		kind, dir := classifyReclaimable(p, n, goroots)
		if kind == "" {
			return
		}
		k := key{kind, dir}
		r := found[k]
		if r == nil {
			r = &Reclaimable{Kind: kind, Path: dir}
			found[k] = r
			byLayer[k] = map[int]int64{}
		}
		r.Bytes += b
		r.Files++
		byLayer[k][n.layer] += b
	})
	var out []Reclaimable
	for k, r := range found {
		most := int64(-1)
		for layer, b := range byLayer[k] {
			if b > most || b == most && layer+1 < r.Layer {
				most, r.Layer = b, layer+1
			}
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// classifyReclaimable names the kind of the path p, and the directory it
// is counted under; "" when the image needs it.
func classifyReclaimable(p string, n *node, goroots []string) (string, string) {
	for _, root := range goroots {
		if strings.HasPrefix(p, root+"/") {
			return GoToolchain, root
		}
	}
	for _, r := range reclaimRules {
		if m := r.re.FindStringSubmatch(p); m != nil {
			return r.kind, m[1]
		}
	}
	base := path.Base(p)
	if onPath(p) && (toolchains.MatchString(base) && !strings.HasPrefix(base, "go")) {
		return CToolchain, path.Dir(p)
	}
	if n.typeflag == tar.TypeReg && strings.HasSuffix(base, ".a") {
		return StaticLibs, path.Dir(p)
	}
	return "", ""
}

// goToolchains finds the Go installations of the final filesystem: a
// directory with bin/go and pkg/tool, as GOROOT is laid out.
func goToolchains(fs *fsTree) []string {
	var roots []string
	fs.walk(func(p string, n *node) {
		if path.Base(p) != "go" || n.typeflag != tar.TypeReg || path.Base(path.Dir(p)) != "bin" {
			return
		}
		root := path.Dir(path.Dir(p))
		links := 0
		if _, tool := fs.follow(root+"/pkg/tool", &links); tool != nil && tool.isDir() {
			roots = append(roots, root)
		}
	})
	return roots
}
