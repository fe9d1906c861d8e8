package analysis

import (
	"archive/tar"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// The merged filesystem of an image, built layer by layer the way Docker's
// overlay2 storage driver (its default) presents it to a container:
//   - each layer is a tree of its own, holding its entries and the parent
//     directories they imply;
//   - a directory over a directory merges with it; anything else over a
//     path (a file over a directory, a directory over a symlink) hides what
//     was there, with everything under it;
//   - ".wh.NAME" removes NAME, with everything under it; ".wh..wh..opq" in
//     a directory hides everything the layers below put in it;
//   - a hard link is a second name for the same file: it keeps the file's
//     size and mode when the first name is removed, and its header's
//     mode and owner become the file's, as Docker applies them;
//   - an entry whose name or hard link target leaves the root ("breakout",
//     as Docker calls it) is an error, as Docker refuses to apply it.

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// inode is what the names of one file share.
type inode struct {
	typeflag byte
	size     int64
	mode     int64
	uid, gid int
	linkname string // a symlink's target
	digest   string // of a regular file's content, when asked for
	runs     bool   // a regular file's content starts as ELF or #! does
	sum      uint64 // a regular file's content, hashed (hash/maphash)
}

// node is one path of the merged filesystem.
type node struct {
	*inode
	own      int64 // the size its tar entry gives: 0 for a hard link
	layer    int   // the highest layer that has this path
	children map[string]*node
	// names are the children's names, sorted: made by walk, once the
	// tree is whole.
	names []string
}

func (n *node) isDir() bool { return n.typeflag == tar.TypeDir }

// bytes is what a path counts for in Image.Size: its tar entry's size,
// and a symlink's target length.
func (n *node) bytes() int64 {
	if n.typeflag == tar.TypeSymlink {
		return n.own + int64(len(n.linkname))
	}
	return n.own
}

// fsTree is the merged filesystem being assembled.
type fsTree struct {
	root node
	// counter, when not nil, is told of every path a layer hides, with
	// the cause, before it is gone: see hidden.go.
	counter *hiddenCounter
	// rewrite is the regular file the last entry replaced with another
	// regular file of the same size, at the path rewritePath: whether it
	// was rewritten unchanged is known once the new content is read.
	rewrite     *node
	rewritePath string
	// keep names the paths whose content the walk keeps, in kept, for
	// whatRuns to read: the candidates for the entrypoint's program.
	keep   map[string]bool
	kept   map[*inode][]byte
	keptAt map[string]*inode
	// pkgFiles is what the packages pass needs of the files it reads
	// (packages.go); pkgBuf holds the content of the one being read.
	pkgFiles      map[*inode]pkgContent
	pkgBuf        []byte
	pkgKept       int64 // bytes of text in pkgFiles
	pkgIncomplete bool  // a file past maxPkgTotal was not kept
	// owners, when not nil, gets each owned path's package, an index
	// of ownerList: for the picture of the tree (Options.Tree).
	owners    map[string]int
	ownerList []Package
}

// hidden tells t.hide of n and, for a directory, of all it holds.
func (t *fsTree) hidden(p string, n *node, cause Cause, layer int) {
	if t.counter == nil {
		return
	}
	t.counter.hide(p, n, cause, layer)
	for name, c := range n.children {
		t.hidden(p+"/"+name, c, cause, layer)
	}
}

func newFSTree() *fsTree {
	return &fsTree{root: node{inode: &inode{typeflag: tar.TypeDir, mode: 0o755}, layer: -1, children: map[string]*node{}}}
}

// errBreakout marks an entry that would be written outside the root.
var errBreakout = errors.New("breakout: outside the image's root")

// underRoot joins p to the root the way Docker does (filepath.Join, which
// takes a leading slash as part of the name) and reports whether the result
// stays under the root, and the path below it.
func underRoot(elem ...string) (string, bool) {
	const root = "r"
	j := path.Join(append([]string{root}, elem...)...)
	if j == root {
		return "", true
	}
	rest, ok := strings.CutPrefix(j, root+"/")
	return rest, ok
}

// entryPath cleans a tar entry's name into its path components, refusing a
// name that leaves the root. A leading slash is allowed: Docker joins the
// name to the root either way.
func entryPath(name string) ([]string, error) {
	rel, ok := underRoot(name)
	if !ok {
		return nil, fmt.Errorf("entry %q: %w", name, errBreakout)
	}
	if rel == "" {
		return nil, nil
	}
	return strings.Split(rel, "/"), nil
}

// apply adds one entry of layer to the tree.
func (t *fsTree) apply(h *tar.Header, layer int) error {
	parts, err := entryPath(h.Name)
	if err != nil {
		return err
	}
	_, err = t.applyEntry(h, parts, layer)
	return err
}

// applyEntry adds the entry h, whose path is parts as entryPath gives it,
// and returns the inode it gave the path, or nil.
func (t *fsTree) applyEntry(h *tar.Header, parts []string, layer int) (*inode, error) {
	if len(parts) == 0 {
		if h.Typeflag == tar.TypeDir {
			t.root.mode, t.root.layer = h.Mode&0o7777, layer
		}
		return nil, nil
	}
	dir, err := t.parent(parts, layer)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", h.Name, err)
	}
	base := parts[len(parts)-1]
	switch {
	case base == whiteoutOpaque:
		dir.hideBelow(t, "/"+strings.Join(parts[:len(parts)-1], "/"), layer)
		return nil, nil
	case strings.HasPrefix(base, whiteoutPrefix):
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if old, ok := dir.children[name]; ok {
			t.hidden("/"+strings.Join(append(parts[:len(parts)-1:len(parts)-1], name), "/"), old, RemovedLater, layer)
		}
		delete(dir.children, name)
		return nil, nil
	}

	// Some writers (Docker's own, for older layers) put the file type's
	// bits in the mode too; the type is the header's type flag.
	in := &inode{typeflag: h.Typeflag, size: h.Size, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
	if h.Typeflag == tar.TypeSymlink {
		in.linkname = h.Linkname
	}
	switch h.Typeflag {
	case tar.TypeLink:
		target, err := entryPath(h.Linkname)
		if err != nil {
			return nil, fmt.Errorf("hard link %q to %q: %w", h.Name, h.Linkname, errBreakout)
		}
		n := t.lookup(target)
		if n == nil && len(target) > 1 {
			// The target's directory may be reached through a symlink
			// of this layer, which link(2) follows.
			if dir, err := t.resolve(target[:len(target)-1], layer, 0, false); err == nil {
				n = dir.children[target[len(target)-1]]
			}
		}
		if n == nil || n.isDir() {
			return nil, fmt.Errorf("hard link %q to %q: no such file in the layers so far", h.Name, h.Linkname)
		}
		// Docker gives the file the link's owner (lchown of the new
		// name) and, unless it is a symlink, the link's mode (chmod): a
		// link header can make a file setuid.
		in = n.inode
		in.uid, in.gid = h.Uid, h.Gid
		if in.typeflag != tar.TypeSymlink {
			in.mode = h.Mode & 0o7777
		}
	case tar.TypeSymlink:
		// Docker refuses a target that climbs out of the root from where
		// the link is.
		if _, ok := underRoot(strings.Join(parts[:len(parts)-1], "/"), h.Linkname); !ok {
			return nil, fmt.Errorf("symlink %q to %q: %w", h.Name, h.Linkname, errBreakout)
		}
	}
	if old, ok := dir.children[base]; ok && old.isDir() && h.Typeflag == tar.TypeDir {
		old.inode = in
		old.layer = layer
		return in, nil
	}
	n := &node{inode: in, own: h.Size, layer: layer}
	if h.Typeflag == tar.TypeDir {
		n.children = map[string]*node{}
	}
	t.rewrite = nil
	if old, ok := dir.children[base]; ok && !(old.layer == layer && !old.isDir()) {
		// A name listed twice in one layer counts once in its size, the
		// last entry: the first is no hidden byte.
		p := "/" + strings.Join(parts, "/")
		switch {
		case old.isDir():
			t.hidden(p, old, RemovedLater, layer)
		case old.typeflag == tar.TypeReg && h.Typeflag == tar.TypeReg && old.size == h.Size:
			t.rewrite, t.rewritePath = old, p
		default:
			t.hidden(p, old, Replaced, layer)
		}
	}
	dir.children[base] = n
	return in, nil
}

// rewritten settles the file the last entry replaced, now that its own
// content is read: rewritten unchanged when the content is the same.
func (t *fsTree) rewritten(in *inode, layer int) {
	if t.rewrite == nil {
		return
	}
	cause := Replaced
	if in != nil && in.sum == t.rewrite.sum {
		cause = RewrittenUnchanged
	}
	t.hidden(t.rewritePath, t.rewrite, cause, layer)
	t.rewrite = nil
}

// parent returns the directory that holds the path parts, creating the
// directories it implies. A layer that implies a directory has one of its
// own, with Docker's implied mode (0755), which under overlay2 hides a
// non-directory below it and gives a merged directory its mode.
//
// Docker extracts a layer into a directory of its own, where the kernel
// follows the symlinks that layer made: an entry under one is written
// where it leads (/tools → /usr/bin, then /tools/su2 is /usr/bin/su2). A
// lower layer's symlink is not there, and a directory of this layer hides
// it.
func (t *fsTree) parent(parts []string, layer int) (*node, error) {
	dir := &t.root
	for i, name := range parts[:len(parts)-1] {
		next, ok := dir.children[name]
		switch {
		case ok && next.typeflag == tar.TypeSymlink && next.layer == layer:
			target, err := t.resolve(parts[:i+1], layer, 0, true)
			if err != nil {
				return nil, err
			}
			next = target
		case !ok || !next.isDir():
			if ok {
				t.hidden("/"+strings.Join(parts[:i+1], "/"), next, RemovedLater, layer)
			}
			next = &node{inode: impliedDir(), layer: layer, children: map[string]*node{}}
			dir.children[name] = next
		case next.layer < layer:
			next.inode, next.layer = impliedDir(), layer
		}
		dir = next
	}
	return dir, nil
}

// resolve returns the directory at the path parts, following the symlinks
// layer made as the kernel does inside the directory Docker extracts it
// in (so /.. is /). With strict, every directory on the way must be one
// the layer holds, as only those are there.
func (t *fsTree) resolve(parts []string, layer, depth int, strict bool) (*node, error) {
	if depth > 40 {
		return nil, errors.New("too many levels of symbolic links")
	}
	n := &t.root
	for i, name := range parts {
		c := n.children[name]
		here := "/" + strings.Join(parts[:i+1], "/")
		switch {
		case c == nil:
			return nil, fmt.Errorf("%s does not exist in the layer", here)
		case c.typeflag == tar.TypeSymlink && c.layer == layer:
			target := c.linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(here), target)
			}
			r, err := t.resolve(splitPath(target), layer, depth+1, strict)
			if err != nil {
				return nil, fmt.Errorf("symlink %s: %w", here, err)
			}
			if c = r; !c.isDir() {
				return nil, fmt.Errorf("symlink %s leads to no directory", here)
			}
		case !c.isDir() || strict && c.layer != layer:
			return nil, fmt.Errorf("%s is not a directory of the layer", here)
		}
		n = c
	}
	return n, nil
}

// splitPath splits an absolute path into its names.
func splitPath(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func impliedDir() *inode { return &inode{typeflag: tar.TypeDir, mode: 0o755} }

// lookup returns the node at the path parts, or nil.
func (t *fsTree) lookup(parts []string) *node {
	n := &t.root
	for _, name := range parts {
		if !n.isDir() {
			return nil
		}
		if n = n.children[name]; n == nil {
			return nil
		}
	}
	return n
}

// follow returns the node at the path p of the final filesystem, and p
// with no symlink in it, as the kernel resolves p inside the container's
// root: every component but the last is followed when it is a symlink,
// relative targets from the link's directory, absolute ones and .. of /
// from the root, and .. after a link from where the link led. links
// counts the symlinks followed, together with the caller's; past
// maxSymlinks, or when a component is missing or no directory, it
// returns nil.
func (t *fsTree) follow(p string, links *int) (string, *node) {
	n := &t.root
	var dirs []*node // the directories above n
	var names []string
	rest := strings.Split(p, "/")
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(dirs) > 0 {
				n, dirs, names = dirs[len(dirs)-1], dirs[:len(dirs)-1], names[:len(names)-1]
			}
			continue
		}
		if !n.isDir() {
			return "", nil
		}
		c := n.children[name]
		if c == nil {
			return "", nil
		}
		if c.typeflag == tar.TypeSymlink && !last(rest) {
			if *links++; *links > maxSymlinks {
				return "", nil
			}
			if path.IsAbs(c.linkname) {
				n, dirs, names = &t.root, nil, nil
			}
			rest = append(strings.Split(c.linkname, "/"), rest...)
			continue
		}
		dirs, names, n = append(dirs, n), append(names, name), c
	}
	return "/" + strings.Join(names, "/"), n
}

// last reports whether nothing but empty names is left of a path: the
// name before was its last component.
func last(rest []string) bool {
	for _, name := range rest {
		if name != "" {
			return false
		}
	}
	return true
}

// hideBelow removes what layers below layer put under n, at the path p,
// keeping what layer itself put there, and tells t of what it removes.
func (n *node) hideBelow(t *fsTree, p string, layer int) {
	p = strings.TrimSuffix(p, "/")
	for name, c := range n.children {
		if c.layer < layer {
			t.hidden(p+"/"+name, c, RemovedLater, layer)
			delete(n.children, name)
		} else if c.isDir() {
			c.hideBelow(t, p+"/"+name, layer)
		}
	}
}

// walk calls fn for every path of the tree but the root, in lexical order,
// a directory before what it holds. It is called once every layer is
// applied: it keeps each directory's sorted names.
func (t *fsTree) walk(fn func(p string, n *node)) {
	var visit func(prefix string, dir *node)
	visit = func(prefix string, dir *node) {
		for _, name := range dir.sortedNames() {
			c := dir.children[name]
			p := prefix + "/" + name
			fn(p, c)
			if c.isDir() {
				visit(p, c)
			}
		}
	}
	visit("", &t.root)
}

// sortedNames are a directory's names in order, sorted once the tree is
// whole (see walk) and kept.
func (n *node) sortedNames() []string {
	if n.names == nil {
		n.names = make([]string, 0, len(n.children))
		for name := range n.children {
			n.names = append(n.names, name)
		}
		sort.Strings(n.names)
	}
	return n.names
}
