package analysis

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/textproto"
	"path"
	"slices"
	"sort"
	"strings"
)

// Package is a package of the final filesystem, with the bytes of the
// files it owns there.
type Package struct {
	Kind    string // deb, apk, npm, python, go
	Name    string
	Version string
	Bytes   int64
	Files   int // regular files and symlinks
	// Layer, from 1, wrote most of its bytes.
	Layer int
	// Modules are a Go binary's dependencies, path@version.
	Modules []string
}

// Package kinds.
const (
	Deb    = "deb"
	Apk    = "apk"
	Npm    = "npm"
	Python = "python"
	GoBin  = "go"
)

// Unowned is what no package claims under one directory.
type Unowned struct {
	Dir   string
	Bytes int64
	Files int
}

// Packages attributes every file of the final filesystem: Bytes, the
// final filesystem's size as Hidden.Visible counts it, is the packages'
// bytes and the unowned ones, exactly. A file of several names counts
// once; a file two packages claim counts for the first claim (see
// attribute).
type Packages struct {
	List    []Package // largest first
	Unowned []Unowned // largest first
	// Count is how many packages own files; Attributed their bytes.
	Count                    int
	Attributed, UnownedBytes int64
	Bytes                    int64
	// Incomplete: the package databases and manifests held more than
	// the walk keeps (maxPkgTotal); those past it were not read.
	Incomplete bool

	all        []Package // List before keep trims it
	allUnowned []Unowned
}

// All returns every package, largest first, however many keep kept.
func (p *Packages) All() []Package { return p.all }

// AllUnowned returns every directory of unowned bytes, largest first.
func (p *Packages) AllUnowned() []Unowned { return p.allUnowned }

// keep trims the lists to the n largest; the sums stay whole.
func (p *Packages) keep(n int) {
	p.List = p.List[:min(len(p.List), n)]
	p.Unowned = p.Unowned[:min(len(p.Unowned), n)]
}

// Named returns the packages of the list with one of names.
func (p *Packages) Named(names []string) []Package {
	var out []Package
	for _, pkg := range p.all {
		if slices.Contains(names, pkg.Name) {
			out = append(out, pkg)
		}
	}
	return out
}

// pkgFile is a file the packages pass reads: a package database, a
// package's manifest, or a Go binary.
type pkgFile int

const (
	noPkgFile pkgFile = iota
	dpkgStatus
	dpkgList
	dpkgDiversions
	apkInstalled
	npmManifest
	pythonRecord
	eggFiles
	eggInfo
	goExecutable
)

// maxPkgText bounds a database or manifest the walk keeps, and
// maxPkgTotal all it keeps: an image may name any number of files as
// package manifests.
const maxPkgText = 64 << 20

var maxPkgTotal int64 = 512 << 20 // a variable for the tests

// npmManifest reports whether p is a package's package.json in a
// node_modules directory: node_modules/NAME/ or node_modules/@SCOPE/NAME/.
func isNpmManifest(p string) bool {
	if !strings.HasSuffix(p, "/package.json") {
		return false
	}
	parent := path.Dir(path.Dir(p))
	if strings.HasPrefix(path.Base(parent), "@") {
		parent = path.Dir(parent)
	}
	return path.Base(parent) == "node_modules"
}

// pkgFileOf says whether the regular file at p, whose content starts
// with head, is one the packages pass reads.
func pkgFileOf(p string, head []byte, mode, size int64) pkgFile {
	if bytes.HasPrefix(head, []byte("\x7fELF")) {
		if mode&0o111 != 0 && size <= maxKept {
			return goExecutable
		}
		return noPkgFile
	}
	if size > maxPkgText {
		return noPkgFile
	}
	switch {
	case p == "/var/lib/dpkg/status":
		return dpkgStatus
	case p == "/var/lib/dpkg/diversions":
		return dpkgDiversions
	case p == "/lib/apk/db/installed":
		return apkInstalled
	case strings.HasPrefix(p, "/var/lib/dpkg/info/") && strings.HasSuffix(p, ".list") && !strings.Contains(p[len("/var/lib/dpkg/info/"):], "/"):
		return dpkgList
	case strings.HasSuffix(p, ".dist-info/RECORD"):
		return pythonRecord
	case strings.HasSuffix(p, ".egg-info/installed-files.txt"):
		return eggFiles
	case strings.HasSuffix(p, ".egg-info/PKG-INFO"):
		return eggInfo
	case isNpmManifest(p):
		return npmManifest
	}
	return noPkgFile
}

// pkgContent is what the walk keeps of a file the packages pass reads:
// a text file whole, a Go binary's build information.
type pkgContent struct {
	kind  pkgFile
	path  string // where the walk read it
	text  []byte
	goBin *buildinfo.BuildInfo
}

// keepPkgFile keeps what the packages pass needs of content, the file in
// as the walk read it.
func (t *fsTree) keepPkgFile(in *inode, p string, kind pkgFile, content []byte) {
	c := pkgContent{kind: kind, path: p}
	if kind == goExecutable {
		bi, err := buildinfo.Read(bytes.NewReader(content))
		if err != nil {
			return // not a Go binary, or one without build information
		}
		c.goBin = bi
	} else {
		if t.pkgKept+int64(len(content)) > maxPkgTotal {
			t.pkgIncomplete = true
			return
		}
		t.pkgKept += int64(len(content))
		c.text = bytes.Clone(content)
	}
	t.pkgFiles[in] = c
}

// claims maps paths of the final filesystem to the packages that own
// them, the first claim winning.
type claims struct {
	fs    *fsTree
	list  []Package
	owner map[string]int
}

// resolve is p as the final filesystem holds it, its directories' links
// followed (dpkg lists /bin/ls where /bin links to usr/bin), and
// whether a file or symlink is there.
func (c *claims) resolve(p string) (string, bool) {
	links := 0
	// The directory's own last component is followed too ("/.").
	dir, n := c.fs.follow(path.Dir(path.Clean("/"+p))+"/.", &links)
	if n == nil || !n.isDir() {
		return "", false
	}
	child := n.children[path.Base(p)]
	if child == nil || child.isDir() {
		return "", false
	}
	return path.Join(dir, path.Base(p)), true
}

func (c *claims) add(p Package) int {
	c.list = append(c.list, p)
	return len(c.list) - 1
}

func (c *claims) claim(pkg int, p string) {
	if resolved, ok := c.resolve(p); ok {
		if _, taken := c.owner[resolved]; !taken {
			c.owner[resolved] = pkg
		}
	}
}

// packagesOf reads the package databases, manifests and Go binaries of
// the final filesystem and attributes every file: first the claims of
// the package databases (dpkg, apk) and of Python's records, in their
// order; then an npm package's directory (its nested node_modules
// apart); then a Go binary its own bytes; the rest is unowned.
func packagesOf(fs *fsTree) Packages {
	c := &claims{fs: fs, owner: map[string]int{}}
	text := func(p string) []byte {
		links := 0
		if _, n := fs.follow(p, &links); n != nil && n.typeflag == tar.TypeReg {
			return fs.pkgFiles[n.inode].text
		}
		return nil
	}
	readDpkg(c, text)
	readApk(c, text("/lib/apk/db/installed"))
	npmDirs := map[string]int{}
	goBins := map[*inode]int{}
	// The files read, in path order, where the final filesystem still
	// has them.
	var read []*inode
	for in, content := range fs.pkgFiles {
		if n := fs.lookup(splitPath(content.path)); n != nil && n.inode == in {
			read = append(read, in)
		}
	}
	sort.Slice(read, func(i, j int) bool { return fs.pkgFiles[read[i]].path < fs.pkgFiles[read[j]].path })
	for _, in := range read {
		content, p := fs.pkgFiles[in], fs.pkgFiles[in].path
		switch content.kind {
		case pythonRecord:
			readPythonRecord(c, p, content.text)
		case eggFiles:
			readEggFiles(c, p, content.text, text(path.Dir(p)+"/PKG-INFO"))
		case npmManifest:
			var m struct{ Name, Version string }
			if json.Unmarshal(content.text, &m) == nil && m.Name != "" {
				npmDirs[path.Dir(p)] = c.add(Package{Kind: Npm, Name: m.Name, Version: m.Version})
			}
		case goExecutable:
			bi := content.goBin
			pkg := Package{Kind: GoBin, Name: bi.Path, Version: bi.Main.Version}
			for _, d := range bi.Deps {
				pkg.Modules = append(pkg.Modules, d.Path+"@"+d.Version)
			}
			goBins[in] = c.add(pkg)
		}
	}
	out := c.attribute(npmDirs, goBins)
	out.Incomplete = fs.pkgIncomplete
	fs.ownerList = c.list
	return out
}

// owns says which package owns the file at p, -1 for none.
func (c *claims) owns(p string, n *node, npmDirs map[string]int, goBins map[*inode]int) int {
	if pkg, ok := c.owner[p]; ok {
		return pkg
	}
	if strings.Contains(p, "/node_modules/") {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if pkg, ok := npmDirs[dir]; ok {
				return pkg
			}
		}
	}
	if pkg, ok := goBins[n.inode]; ok && n.typeflag == tar.TypeReg {
		return pkg
	}
	return -1
}

// attribute counts every file of the final filesystem for its owner: a
// file of several names for the owner of the first of them (in path
// order) that has one.
func (c *claims) attribute(npmDirs map[string]int, goBins map[*inode]int) Packages {
	inodeOwner := map[*inode]int{}
	c.fs.walk(func(p string, n *node) {
		if n.typeflag != tar.TypeReg {
			return
		}
		if _, done := inodeOwner[n.inode]; done && inodeOwner[n.inode] >= 0 {
			return
		}
		inodeOwner[n.inode] = c.owns(p, n, npmDirs, goBins)
	})
	var out Packages
	byLayer := make([]map[int]int64, len(c.list))
	unowned := map[string]*Unowned{}
	seen := map[*inode]bool{}
	c.fs.walk(func(p string, n *node) {
		b, owner := n.bytes(), -1
		switch {
		case n.typeflag == tar.TypeReg:
			if seen[n.inode] {
				return
			}
			seen[n.inode] = true
			b, owner = n.size, inodeOwner[n.inode]
		case n.isDir() && b == 0:
			return
		default:
			owner = c.owns(p, n, npmDirs, goBins)
		}
		out.Bytes += b
		if owner < 0 {
			dir := topDir(path.Dir(p))
			u := unowned[dir]
			if u == nil {
				u = &Unowned{Dir: dir}
				unowned[dir] = u
			}
			u.Bytes += b
			u.Files++
			out.UnownedBytes += b
			return
		}
		if c.fs.owners != nil {
			c.fs.owners[p] = owner
		}
		pkg := &c.list[owner]
		pkg.Bytes += b
		pkg.Files++
		if byLayer[owner] == nil {
			byLayer[owner] = map[int]int64{}
		}
		byLayer[owner][n.layer] += b
	})
	for i, pkg := range c.list {
		if pkg.Files == 0 {
			continue
		}
		most := int64(-1)
		for layer, b := range byLayer[i] {
			if b > most || b == most && layer+1 < pkg.Layer {
				most, pkg.Layer = b, layer+1
			}
		}
		out.List = append(out.List, pkg)
		out.Count++
		out.Attributed += pkg.Bytes
	}
	sort.SliceStable(out.List, func(i, j int) bool { return out.List[i].Bytes > out.List[j].Bytes })
	out.all = out.List
	for _, u := range unowned {
		out.Unowned = append(out.Unowned, *u)
	}
	sort.Slice(out.Unowned, func(i, j int) bool {
		if out.Unowned[i].Bytes != out.Unowned[j].Bytes {
			return out.Unowned[i].Bytes > out.Unowned[j].Bytes
		}
		return out.Unowned[i].Dir < out.Unowned[j].Dir
	})
	out.allUnowned = out.Unowned
	return out
}

// topDir is the first three components of dir: unowned bytes are
// grouped by it.
func topDir(dir string) string {
	parts := strings.SplitN(strings.TrimPrefix(dir, "/"), "/", 4)
	if len(parts) > 3 {
		parts = parts[:3]
	}
	return "/" + strings.Join(parts, "/")
}

// readDpkg claims the files of each package dpkg's status says is
// installed, from its .list file (name:arch.list for a Multi-Arch: same
// package), a diverted path where another package diverts it.
func readDpkg(c *claims, text func(string) []byte) {
	status := text("/var/lib/dpkg/status")
	if status == nil {
		return
	}
	// The diversions file holds three lines a diversion: the path, where
	// it is diverted to, and the package that diverts it (":" for a
	// local diversion, which applies to every package).
	type diversion struct{ to, by string }
	diverted := map[string]diversion{}
	lines := strings.Split(string(text("/var/lib/dpkg/diversions")), "\n")
	for i := 0; i+2 < len(lines); i += 3 {
		diverted[lines[i]] = diversion{lines[i+1], lines[i+2]}
	}
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(status)))
	for {
		h, err := r.ReadMIMEHeader()
		if name := h.Get("Package"); name != "" && installed(h.Get("Status")) {
			list := text("/var/lib/dpkg/info/" + name + ":" + h.Get("Architecture") + ".list")
			if list == nil {
				list = text("/var/lib/dpkg/info/" + name + ".list")
			}
			pkg := c.add(Package{Kind: Deb, Name: name, Version: h.Get("Version")})
			paths := strings.Split(string(list), "\n")
			// A path the list holds others under is a directory of the
			// package, even where the tree has a link there (/bin, in
			// Debian since bookworm): the link is not the package's.
			dirs := map[string]bool{}
			for _, p := range paths {
				dirs[path.Dir(p)] = true
			}
			for _, p := range paths {
				if dirs[p] || p == "" || p == "/." {
					continue
				}
				if d, ok := diverted[p]; ok && d.by != name {
					p = d.to
				}
				c.claim(pkg, p)
			}
		}
		if err != nil {
			return
		}
	}
}

// installed reports whether a dpkg Status field ("install ok installed")
// leaves files of the package on disk: every state but not-installed (a
// removed package's config-files are still its own, as dpkg -S says).
func installed(status string) bool {
	f := strings.Fields(status)
	return len(f) == 3 && f[2] != "not-installed"
}

// readApk claims the files of each package of apk's installed database:
// stanzas of one-letter fields, P: the name, V: the version, F: a
// directory and R: a file in the directory before it.
func readApk(c *claims, db []byte) {
	pkg, dir := -1, ""
	for _, line := range strings.Split(string(db), "\n") {
		key, value, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			pkg, dir = -1, ""
		case key == "P":
			pkg = c.add(Package{Kind: Apk, Name: value})
		case pkg < 0:
		case key == "V":
			c.list[pkg].Version = value
		case key == "F":
			dir = value
		case key == "R":
			c.claim(pkg, dir+"/"+value)
		}
	}
}

// readPythonRecord claims the files a wheel's RECORD lists, relative to
// the directory its .dist-info lies in; the name and version are the
// .dist-info directory's.
func readPythonRecord(c *claims, p string, record []byte) {
	distInfo := path.Dir(p)
	name, version, _ := strings.Cut(strings.TrimSuffix(path.Base(distInfo), ".dist-info"), "-")
	pkg := c.add(Package{Kind: Python, Name: name, Version: version})
	r := csv.NewReader(bytes.NewReader(record))
	r.FieldsPerRecord = -1
	for {
		row, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			continue
		}
		if len(row) > 0 && row[0] != "" {
			c.claim(pkg, joinRelative(path.Dir(distInfo), row[0]))
		}
	}
}

// readEggFiles claims the files an egg's installed-files.txt lists,
// relative to the .egg-info directory; name and version from its
// PKG-INFO.
func readEggFiles(c *claims, p string, files, info []byte) {
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(info))).ReadMIMEHeader()
	name := h.Get("Name")
	if name == "" {
		name, _, _ = strings.Cut(strings.TrimSuffix(path.Base(path.Dir(p)), ".egg-info"), "-")
	}
	pkg := c.add(Package{Kind: Python, Name: name, Version: h.Get("Version")})
	c.claim(pkg, p)
	for _, f := range strings.Split(string(files), "\n") {
		if f = strings.TrimSpace(f); f != "" {
			c.claim(pkg, joinRelative(path.Dir(p), f))
		}
	}
}

// joinRelative is p under dir, unless p is absolute.
func joinRelative(dir, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(dir, p)
}
