package analysis

import (
	"archive/tar"
	"math"
	"path"
	"sort"
	"strings"
)

// Waste is dive's account of the bytes an image carries for nothing:
// files that later layers replace or remove still take their space in the
// layers below. The figures are dive's own (github.com/wagoodman/dive
// v0.13.1, dive/filetree/efficiency.go and dive/image/image.go), edge cases
// included, so that dive's CI rules carry over to the byte. dive does not
// apply a layer the way Docker does, and these figures follow dive, not
// Docker (the files and findings follow Docker):
//   - each layer is a tree of its entries' cleaned names. A directory its
//     entries imply but do not list has no size and is not a directory as
//     far as dive is concerned; a name listed twice keeps the last entry;
//     opaque whiteouts are dropped;
//   - every leaf of a layer's tree (a file, a link, an empty directory, a
//     whiteout) is a reference to its path, visited depth first, children
//     before their parent, names in byte order. A whiteout's size is that
//     of everything under the path it removes when that path is a
//     directory in the layers below, else 0. When the path does not exist
//     below, dive stops counting that layer (its error ends the walk);
//   - the layers below are stacked the way dive stacks them: a name added
//     again keeps the children it had (so a directory replaced by a file
//     and then by a directory again keeps its old contents), a directory a
//     layer only implies loses its directory type, opaque whiteouts remove
//     nothing;
//   - a path's cumulative size is the sum over its references, its minimum
//     the smallest of them (dive counts -1 for a path whose only reference
//     was the whiteout that stopped a layer);
//   - Efficiency is the sum of the minimums over the sum of the cumulative
//     sizes, over every path; 1 when there is nothing;
//   - WastedBytes is the sum of the cumulative sizes of the paths with two
//     references or more;
//   - UserWastedPercent is WastedBytes over the bytes of every layer but
//     the first (the sum of their tar header sizes, a name listed twice
//     counted twice), in percent: +Inf when those layers hold no bytes and
//     something is wasted (dive's rule on it then fails), 0 when nothing is.
type Waste struct {
	Efficiency        float64
	WastedBytes       int64
	UserSize          int64
	UserWastedPercent float64
	// Minimums and Cumulative are the sums Efficiency divides, for rules
	// that compare it exactly.
	Minimums, Cumulative int64
	// Paths are the paths with two references or more, most wasted first.
	Paths []WastedPath
}

// WastedPath is a path referred to by more than one layer.
type WastedPath struct {
	Path       string
	References int
	Size       int64 // cumulative
}

type pathUse struct {
	cumulative, min int64 // min is -1 until a reference is counted
	references      int
}

// wasteCounter gathers the references of every layer.
type wasteCounter struct {
	paths    map[string]*pathUse
	userSize int64
	layer    *diveTree // the layer being read
	stacked  *diveTree // the layers below it, as dive stacks them
	index    int       // of the layer being read
}

func newWasteCounter() *wasteCounter {
	return &wasteCounter{paths: map[string]*pathUse{}, layer: newDiveTree()}
}

// entry records one tar entry of the layer being read.
func (w *wasteCounter) entry(h *tar.Header) {
	if w.index > 0 {
		w.userSize += h.Size
	}
	name := path.Clean(h.Name)
	if name == "." {
		return
	}
	w.layer.add(name, diveInfo{size: h.Size, dir: h.FileInfo().IsDir()})
}

// endLayer counts the references of the layer just read and stacks it.
func (w *wasteCounter) endLayer() {
	below := w.stacked
	if w.index == 0 {
		// dive looks a first-layer whiteout up in that layer itself.
		below = w.layer
	}
	w.layer.root.walk(func(n *diveNode) bool {
		if len(n.children) > 0 {
			return true
		}
		p := n.path()
		u, ok := w.paths[p]
		if !ok {
			u = &pathUse{min: -1}
			w.paths[p] = u
		}
		size := n.size
		if n.whiteout() {
			prev := below.lookup(p)
			if prev == nil {
				return false
			}
			size = 0
			if prev.dir {
				prev.walk(func(c *diveNode) bool { size += c.size; return true })
			}
		}
		u.cumulative += size
		if u.min < 0 || size < u.min {
			u.min = size
		}
		u.references++
		return true
	})
	if w.index == 0 {
		// dive stacks the first layer on a copy of itself.
		w.stacked = w.layer.copy()
	}
	w.stacked.stack(w.layer)
	w.layer = newDiveTree()
	w.index++
}

// result computes the figures, keeping the top most wasted paths.
func (w *wasteCounter) result(top int) Waste {
	out := Waste{Efficiency: 1, UserSize: w.userSize}
	for p, u := range w.paths {
		out.Minimums += u.min
		out.Cumulative += u.cumulative
		if u.references > 1 {
			out.WastedBytes += u.cumulative
			out.Paths = append(out.Paths, WastedPath{p, u.references, u.cumulative})
		}
	}
	if out.Cumulative != 0 {
		out.Efficiency = float64(out.Minimums) / float64(out.Cumulative)
	}
	switch {
	case w.userSize > 0:
		out.UserWastedPercent = 100 * float64(out.WastedBytes) / float64(w.userSize)
	case out.WastedBytes > 0:
		out.UserWastedPercent = math.Inf(1)
	}
	sort.Slice(out.Paths, func(i, j int) bool {
		if out.Paths[i].Size != out.Paths[j].Size {
			return out.Paths[i].Size > out.Paths[j].Size
		}
		return out.Paths[i].Path < out.Paths[j].Path
	})
	if len(out.Paths) > top {
		out.Paths = out.Paths[:top]
	}
	return out
}

// diveDoubleWhiteout starts the names dive never adds to a tree.
const diveDoubleWhiteout = ".wh..wh.."

// diveTree is a layer, or a stack of layers, as dive's FileTree holds it.
type diveTree struct{ root *diveNode }

type diveInfo struct {
	size int64
	dir  bool
}

type diveNode struct {
	diveInfo
	name     string
	parent   *diveNode
	children map[string]*diveNode
}

func newDiveTree() *diveTree { return &diveTree{root: &diveNode{}} }

func (n *diveNode) whiteout() bool { return strings.HasPrefix(n.name, whiteoutPrefix) }

// path is the node's path, a whiteout's prefix removed from its name.
func (n *diveNode) path() string {
	var parts []string
	for c := n; c.parent != nil; c = c.parent {
		name := c.name
		if c == n {
			name = strings.TrimPrefix(name, whiteoutPrefix)
		}
		parts = append(parts, name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	if b.Len() == 0 {
		return "/"
	}
	return strings.ReplaceAll(b.String(), "//", "/")
}

// add is dive's AddPath: the directories on the way are created with no
// information, and the last name takes info, keeping its children.
func (t *diveTree) add(p string, info diveInfo) {
	n := t.root
	for name := range strings.SplitSeq(strings.Trim(path.Clean(p), "/"), "/") {
		if name == "" {
			continue
		}
		c := n.children[name]
		if c == nil {
			if strings.HasPrefix(name, diveDoubleWhiteout) {
				return // dive drops opaque whiteouts
			}
			c = &diveNode{name: name, parent: n}
			if n.children == nil {
				n.children = map[string]*diveNode{}
			}
			n.children[name] = c
		}
		n = c
	}
	if n != t.root {
		n.diveInfo = info
	}
}

// lookup is dive's GetNode: the node at p, or nil.
func (t *diveTree) lookup(p string) *diveNode {
	n := t.root
	for name := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
		if name == "" {
			continue
		}
		if n = n.children[name]; n == nil {
			return nil
		}
	}
	return n
}

// walk visits n's subtree children first, names in byte order, n last
// unless it is the root, until fn returns false; it reports whether it
// went through.
func (n *diveNode) walk(fn func(*diveNode) bool) bool {
	if len(n.children) > 0 {
		names := make([]string, 0, len(n.children))
		for name := range n.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !n.children[name].walk(fn) {
				return false
			}
		}
	}
	return n.parent == nil || fn(n)
}

func (t *diveTree) copy() *diveTree {
	var clone func(n, parent *diveNode) *diveNode
	clone = func(n, parent *diveNode) *diveNode {
		c := &diveNode{diveInfo: n.diveInfo, name: n.name, parent: parent}
		if len(n.children) > 0 {
			c.children = make(map[string]*diveNode, len(n.children))
			for name, child := range n.children {
				c.children[name] = clone(child, c)
			}
		}
		return c
	}
	return &diveTree{root: clone(t.root, nil)}
}

// stack is dive's Stack: upper's nodes, children first, are added to t,
// its whiteouts remove what they name.
func (t *diveTree) stack(upper *diveTree) {
	upper.root.walk(func(n *diveNode) bool {
		p := n.path()
		if !n.whiteout() {
			t.add(p, n.diveInfo)
		} else if old := t.lookup(p); old != nil && old != t.root {
			delete(old.parent.children, old.name)
		}
		return true
	})
}
