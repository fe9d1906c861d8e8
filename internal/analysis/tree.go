package analysis

import (
	"archive/tar"
	"fmt"
	"sort"
)

// TreeNode is a directory or a file of the final filesystem, for a
// picture of it: its bytes as Image.Size counts them (a file of several
// names once), the layer that wrote it and the package that owns it.
// Files too small to draw are gathered into one node per directory.
type TreeNode struct {
	Name    string
	Bytes   int64
	Layer   int    // from 1, the layer that wrote a file; 0 for a directory
	Package string // "kind name version", "" for none
	// Small, for a node of gathered files, is how many it holds.
	Small    int
	Children []*TreeNode // a directory's, largest first
}

// maxTreeNodes bounds the nodes a tree keeps: what is smaller than the
// whole's share of it is gathered.
const maxTreeNodes = 20000

// buildTree makes the tree of fs, files under the whole's
// 1/maxTreeNodes gathered per directory.
func buildTree(fs *fsTree) *TreeNode {
	seen := map[*inode]bool{}
	var build func(p string, n *node) *TreeNode
	build = func(p string, n *node) *TreeNode {
		t := &TreeNode{}
		if !n.isDir() {
			b := n.bytes()
			if n.typeflag == tar.TypeReg {
				b = 0
				if !seen[n.inode] {
					seen[n.inode], b = true, n.size
				}
			}
			t.Bytes, t.Layer = b, n.layer+1
			if owner, ok := fs.owners[p]; ok {
				pkg := fs.ownerList[owner]
				t.Package = pkg.Kind + " " + pkg.Name + " " + pkg.Version
			}
			return t
		}
		for _, name := range n.sortedNames() {
			c := build(p+"/"+name, n.children[name])
			if c.Bytes == 0 {
				continue
			}
			c.Name = name
			t.Bytes += c.Bytes
			t.Children = append(t.Children, c)
		}
		return t
	}
	root := build("", &fs.root)
	root.Name = "/"
	gather(root, max(root.Bytes/maxTreeNodes, 1))
	return root
}

// gather replaces, under t, the nodes of fewer than min bytes by one node
// per directory, and sorts the children largest first.
func gather(t *TreeNode, min int64) {
	var kept []*TreeNode
	small := &TreeNode{}
	for _, c := range t.Children {
		if c.Bytes < min {
			small.Bytes += c.Bytes
			small.Small += count(c)
			continue
		}
		gather(c, min)
		kept = append(kept, c)
	}
	if small.Small > 0 {
		small.Name = fmt.Sprintf("%d small files", small.Small)
		kept = append(kept, small)
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Bytes > kept[j].Bytes })
	t.Children = kept
}

// count is how many files t holds.
func count(t *TreeNode) int {
	if t.Children == nil {
		return max(t.Small, 1)
	}
	n := 0
	for _, c := range t.Children {
		n += count(c)
	}
	return n
}
