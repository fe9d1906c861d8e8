package analysis

import (
	"archive/tar"
	"hash/maphash"
	"sort"
)

// Cause is why bytes a layer holds are not in the final filesystem.
type Cause string

// The causes of hidden bytes, as Docker's overlay2 driver assembles the
// layers: a later layer removes a path (a whiteout, an opaque whiteout,
// or something else written over a directory that held it), writes the
// same content again with only its owner, mode or times changed (RUN
// chown -R, chmod, touch), or writes other content.
const (
	RemovedLater       Cause = "removed later"
	RewrittenUnchanged Cause = "rewritten unchanged"
	Replaced           Cause = "replaced"
)

// Causes are the causes in the order reports list them.
var Causes = []Cause{RemovedLater, RewrittenUnchanged, Replaced}

// Hidden accounts for every byte the layers hold and the final filesystem
// does not show: Bytes = Image.Size - Visible exactly, split by cause.
type Hidden struct {
	// Visible is the size of the final filesystem, counted as Size is.
	Visible int64
	Bytes   int64
	ByCause map[Cause]int64
	// Paths are the largest hidden paths, largest first; Count is how
	// many there are in all.
	Paths []HiddenPath
	Count int

	all []HiddenPath // every hidden path, largest first, for Advise
}

// HiddenPath is one version of a path that a later layer hid.
type HiddenPath struct {
	Path     string
	Bytes    int64
	Cause    Cause
	AddedBy  int // the layer that wrote it, from 1
	HiddenBy int // the layer that hid it, from 1
}

// contentSeed seeds the hash that tells a file rewritten unchanged: two
// versions of a path are the same when their sizes and 64-bit hashes
// are.
var contentSeed = maphash.MakeSeed()

// hiddenCounter gathers what the layers hide, as fsTree tells it.
type hiddenCounter struct {
	paths  []HiddenPath
	inodes []*inode // of each path
	// sameLayer indexes the paths a layer hid that it wrote itself, by
	// path: should the layer write the path again, its size counts the
	// last entry only (see forget).
	sameLayer map[string]int
	layer     int
}

func newHiddenCounter() *hiddenCounter { return &hiddenCounter{sameLayer: map[string]int{}} }

// hide records one path hidden; directories hold no bytes of their own
// and hard links none of their file's.
func (h *hiddenCounter) hide(p string, n *node, cause Cause, layer int) {
	if layer != h.layer {
		h.layer = layer
		clear(h.sameLayer)
	}
	b := n.bytes()
	if b == 0 {
		return
	}
	if n.layer == layer {
		h.sameLayer[p] = len(h.paths)
	}
	h.paths = append(h.paths, HiddenPath{Path: p, Bytes: b, Cause: cause, AddedBy: n.layer + 1, HiddenBy: layer + 1})
	h.inodes = append(h.inodes, n.inode)
}

// forget is told that layer writes the path p again: the size of the
// layer no longer counts the entry hidden there, so that entry hides
// nothing either.
func (h *hiddenCounter) forget(p string, layer int) {
	if layer != h.layer {
		return
	}
	if i, ok := h.sameLayer[p]; ok {
		h.paths[i].Bytes = 0
		delete(h.sameLayer, p)
	}
}

// visibleBytes is the size of the final filesystem, counted as Image.Size
// counts it, and the files in it: a file of several names counts once.
func visibleBytes(fs *fsTree) (int64, map[*inode]bool) {
	var visible int64
	seen := map[*inode]bool{}
	fs.walk(func(p string, n *node) {
		if n.typeflag == tar.TypeReg {
			if !seen[n.inode] {
				seen[n.inode] = true
				visible += n.size
			}
			return
		}
		visible += n.bytes()
	})
	return visible, seen
}

// result sums what was hidden, keeping the largest paths. A name removed
// while another name of its file stays hides nothing. byLayer gets the
// hidden bytes each layer wrote.
func (h *hiddenCounter) result(fs *fsTree, largest int, byLayer []int64) Hidden {
	visible, seen := visibleBytes(fs)
	out := Hidden{Visible: visible, ByCause: map[Cause]int64{}}
	kept := h.paths[:0]
	for i, p := range h.paths {
		if in := h.inodes[i]; p.Bytes == 0 || in.typeflag == tar.TypeReg && seen[in] {
			continue
		}
		kept = append(kept, p)
		out.Bytes += p.Bytes
		out.ByCause[p.Cause] += p.Bytes
		if p.AddedBy-1 < len(byLayer) {
			byLayer[p.AddedBy-1] += p.Bytes
		}
	}
	h.paths, out.Count = kept, len(kept)
	sort.Slice(h.paths, func(i, j int) bool {
		a, b := h.paths[i], h.paths[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.AddedBy < b.AddedBy
	})
	out.all = h.paths
	out.Paths = h.paths[:min(largest, len(h.paths))]
	return out
}
