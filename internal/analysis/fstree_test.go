package analysis

import (
	"archive/tar"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

func TestDirectoryReplacedByFile(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1"},
		it.By("base", it.Layer(t, it.Dir("opt/app"), it.File("opt/app/a", 10), it.File("opt/app/bash", 20))),
		it.By("replace", it.Layer(t, it.File("opt/app", 5))),
	)
	a := analyze(t, img)
	if a.Files != 1 || a.Has(Shell) {
		t.Errorf("files %d, findings %v: want /opt/app alone, no shell", a.Files, a.Findings)
	}
}

func TestHardLinks(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1"},
		it.By("busybox", it.Layer(t,
			it.Dir("bin"), it.Executable("bin/busybox", 1000),
			it.Entry{Name: "bin/sh", Hardlink: "bin/busybox"},
			it.Entry{Name: "bin/ls", Hardlink: "bin/busybox"},
			it.Entry{Name: "usr/bin/su", Size: 100, Mode: 0o4755},
			it.Entry{Name: "usr/bin/hidden", Hardlink: "usr/bin/su"},
		)),
		it.By("remove su", it.Layer(t, it.Whiteout("usr/bin", "su"))),
	)
	a := analyze(t, img)
	if a.Files != 4 {
		t.Errorf("files = %d, want 4: busybox, its two links, and the surviving link to su", a.Files)
	}
	var setuid, shells []string
	for _, f := range a.Of(Setuid) {
		setuid = append(setuid, f.Path)
	}
	for _, f := range a.Of(Shell) {
		shells = append(shells, f.Path)
	}
	if strings.Join(setuid, " ") != "/usr/bin/hidden" {
		t.Errorf("setuid findings %v, want the hard link whose original was removed", setuid)
	}
	if strings.Join(shells, " ") != "/bin/busybox /bin/sh" {
		t.Errorf("shell findings %v", shells)
	}
	// A hard link holds no bytes of its own, as Docker counts.
	if a.Size != 1100 {
		t.Errorf("Size = %d, want 1100", a.Size)
	}
}

func TestBreakout(t *testing.T) {
	for _, e := range []it.Entry{
		it.File("../../etc/passwd", 1),
		it.File("a/../../..", 1),
		it.File("/../x", 1),
		{Name: "link", Hardlink: "../../etc/shadow"},
		it.Symlink("lib/escape", "../../../etc"),
		it.Symlink("escape", "/../etc"),
	} {
		img := it.Image(t, v1.Config{}, it.By("evil", it.Layer(t, it.File("etc/passwd", 1), e)))
		_, err := Analyze(t.Context(), img, Options{Largest: 5, Compression: Computed})
		if !errors.Is(err, errBreakout) || !strings.Contains(err.Error(), fmt.Sprintf("%q", e.Name)) {
			t.Errorf("%+v: err = %v, want a breakout naming the entry", e, err)
		}
	}
	// Docker joins a name to the root, a leading slash included, and an
	// absolute symlink target resolves inside the container.
	img := it.Image(t, v1.Config{}, it.By("fine", it.Layer(t,
		it.File("/abs/path", 3), it.Symlink("bin/sh", "/bin/busybox"), it.Symlink("lib/up", "../etc"))))
	if a := analyze(t, img); a.Files != 1 || a.Largest[0].Path != "/abs/path" {
		t.Errorf("files %d %v", a.Files, a.Largest)
	}
}

func TestDiffIDMismatch(t *testing.T) {
	img := it.Image(t, v1.Config{}, it.By("one", it.Layer(t, it.File("a", 10))), it.By("two", it.Layer(t, it.File("b", 10))))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[1] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	img = mutateConfig(t, img, cf)
	_, err = Analyze(t.Context(), img, Options{Largest: 5, Compression: Computed})
	if !errors.Is(err, ErrDiffID) || !strings.Contains(err.Error(), "layer 2 of 2") {
		t.Errorf("err = %v, want layer 2 named as not matching its diff_id", err)
	}
}

// refEntry is a path of the reference filesystem.
type refEntry struct {
	typeflag byte
	size     int64
	mode     int64
	inode    int // equal for the names of one file
}

// refLayer is one layer as overlay2 extracts it on its own: its paths,
// with the directories its entries imply, its whiteouts and its opaque
// directories.
type refLayer struct {
	paths     map[string]refEntry
	whiteouts map[string]bool
	opaque    map[string]bool
}

// referenceMerge computes the merged filesystem as overlayfs looks paths up:
// from the top layer down, a whiteout or a non-directory ends the search,
// and a directory collects the layers below it until an opaque one. It is
// written apart from fsTree, which applies entries in order.
func referenceMerge(layers []refLayer) map[string]refEntry {
	out := map[string]refEntry{}
	var visit func(dir string, contributors []int)
	visit = func(dir string, contributors []int) {
		names := map[string]bool{}
		for _, i := range contributors {
			for p := range layers[i].paths {
				if path.Dir(p) == dir && p != dir {
					names[p] = true
				}
			}
		}
		for p := range names {
			var found *refEntry
			var dirLayers []int
			for _, i := range contributors {
				l := layers[i]
				if l.whiteouts[p] {
					break
				}
				e, ok := l.paths[p]
				if !ok {
					continue
				}
				if found == nil {
					found = &e
					if e.typeflag != tar.TypeDir {
						break
					}
				} else if e.typeflag != tar.TypeDir {
					break
				}
				dirLayers = append(dirLayers, i)
				if l.opaque[p] {
					break
				}
			}
			if found == nil {
				continue
			}
			out[p] = *found
			if found.typeflag == tar.TypeDir {
				visit(p, dirLayers)
			}
		}
	}
	all := make([]int, len(layers))
	for i := range all {
		all[i] = len(layers) - 1 - i
	}
	visit("/", all)
	return out
}

// randomStack makes layers of tar headers over a small set of names, so
// paths collide across layers: files (some setuid), directories,
// symlinks, hard links, whiteouts and opaque directories, in random order
// within a layer. Within one layer a path is used once, and nothing is put
// under a path the same layer makes a non-directory or whites out, as
// Docker's own layers are.
func randomStack(rng *rand.Rand) ([][]*tar.Header, []refLayer) {
	names := []string{"a", "b", "c"}
	randomPath := func() string {
		depth := 1 + rng.IntN(3)
		parts := make([]string, depth)
		for i := range parts {
			parts[i] = names[rng.IntN(len(names))]
		}
		return "/" + strings.Join(parts, "/")
	}
	var headers [][]*tar.Header
	var refs []refLayer
	inode := 0
	for range 1 + rng.IntN(4) {
		ref := refLayer{paths: map[string]refEntry{}, whiteouts: map[string]bool{}, opaque: map[string]bool{}}
		used := map[string]bool{}    // entries and whiteouts of this layer
		leaves := map[string]bool{}  // non-directories and whiteouts: nothing may go under them
		implied := map[string]bool{} // directories that entries imply
		var hs []*tar.Header
		var files []string
		free := func(p string) bool {
			if used[p] || implied[p] {
				return false
			}
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				if leaves[d] {
					return false
				}
			}
			return true
		}
		imply := func(p string) {
			for d := path.Dir(p); d != "/"; d = path.Dir(d) {
				implied[d] = true
				if _, ok := ref.paths[d]; !ok {
					ref.paths[d] = refEntry{typeflag: tar.TypeDir, mode: 0o755}
				}
			}
		}
		for range 1 + rng.IntN(10) {
			p := randomPath()
			kind := rng.IntN(7)
			if kind == 6 { // an opaque marker in a directory of this layer
				if ref.paths[p].typeflag == tar.TypeDir && !ref.opaque[p] && !leaves[p] {
					ref.opaque[p] = true
					hs = append(hs, &tar.Header{Name: strings.TrimPrefix(p, "/") + "/" + whiteoutOpaque, Typeflag: tar.TypeReg})
				}
				continue
			}
			if !free(p) {
				continue
			}
			used[p] = true
			h := &tar.Header{Name: strings.TrimPrefix(p, "/")}
			switch kind {
			case 0, 1:
				inode++
				mode := []int64{0o644, 0o755, 0o4755, 0o666}[rng.IntN(4)]
				h.Typeflag, h.Size, h.Mode = tar.TypeReg, int64(rng.IntN(100)), mode
				ref.paths[p] = refEntry{tar.TypeReg, h.Size, mode, inode}
				files = append(files, p)
				leaves[p] = true
			case 2:
				mode := []int64{0o755, 0o1777, 0o700}[rng.IntN(3)]
				h.Typeflag, h.Mode = tar.TypeDir, mode
				ref.paths[p] = refEntry{typeflag: tar.TypeDir, mode: mode}
			case 3:
				h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, "x", 0o777
				ref.paths[p] = refEntry{typeflag: tar.TypeSymlink, mode: 0o777}
				leaves[p] = true
			case 4:
				if len(files) == 0 {
					used[p] = false
					continue
				}
				target := files[rng.IntN(len(files))]
				// tar gives a link its file's mode; a hostile one may
				// not, and Docker applies the link's to the file.
				e := ref.paths[target]
				if rng.IntN(3) == 0 {
					e.mode = []int64{0o644, 0o4755, 0o2711}[rng.IntN(3)]
				}
				h.Typeflag, h.Linkname, h.Mode = tar.TypeLink, strings.TrimPrefix(target, "/"), e.mode
				for q, other := range ref.paths {
					if other.typeflag == tar.TypeReg && other.inode == e.inode {
						other.mode = e.mode
						ref.paths[q] = other
					}
				}
				ref.paths[p] = e
				files = append(files, p)
				leaves[p] = true
			case 5:
				h.Name = strings.TrimPrefix(path.Dir(p)+"/"+whiteoutPrefix+path.Base(p), "/")
				h.Typeflag = tar.TypeReg
				ref.whiteouts[p] = true
				leaves[p] = true
			}
			imply(p)
			hs = append(hs, h)
		}
		// An explicit directory entry may come after what it holds. Hard
		// links go last, in their order, so each follows its target.
		var links []*tar.Header
		hs = slices.DeleteFunc(hs, func(h *tar.Header) bool {
			if h.Typeflag == tar.TypeLink {
				links = append(links, h)
				return true
			}
			return false
		})
		rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
		hs = append(hs, links...)
		headers = append(headers, hs)
		refs = append(refs, ref)
	}
	return headers, refs
}

// TestMergedFilesystemProperty checks fsTree against referenceMerge on
// random layer stacks: the same paths, types, sizes and modes, and the
// same names sharing a file.
func TestMergedFilesystemProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 3000 {
		headers, refs := randomStack(rng)
		tree := newFSTree()
		var script []string
		for i, hs := range headers {
			for _, h := range hs {
				script = append(script, fmt.Sprintf("layer %d: %c %s %s %o", i, h.Typeflag, h.Name, h.Linkname, h.Mode))
				if err := tree.apply(h, i); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
		}
		want := referenceMerge(refs)
		got := map[string]refEntry{}
		inodes := map[*inode]int{}
		tree.walk(func(p string, n *node) {
			e := refEntry{typeflag: n.typeflag, mode: n.mode}
			if n.typeflag == tar.TypeReg {
				e.size = n.size
				if _, ok := inodes[n.inode]; !ok {
					inodes[n.inode] = len(inodes) + 1
				}
				e.inode = inodes[n.inode]
			}
			got[p] = e
		})
		if diff := compareMerged(got, want); diff != "" {
			t.Fatalf("round %d: %s\nentries:\n%s", round, diff, strings.Join(script, "\n"))
		}
	}
}

func mutateConfig(t *testing.T, img v1.Image, cf *v1.ConfigFile) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// compareMerged compares two merged filesystems, with inode numbers
// compared as a partition: the same names share a file in both.
func compareMerged(got, want map[string]refEntry) string {
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	shared := map[[2]int]bool{}
	var diffs []string
	for _, p := range paths {
		g, gok := got[p]
		w, wok := want[p]
		switch {
		case !gok:
			diffs = append(diffs, fmt.Sprintf("missing %s %+v", p, w))
		case !wok:
			diffs = append(diffs, fmt.Sprintf("extra %s %+v", p, g))
		case g.typeflag != w.typeflag || g.size != w.size || g.mode != w.mode:
			diffs = append(diffs, fmt.Sprintf("%s: got %+v, want %+v", p, g, w))
		case g.typeflag == tar.TypeReg:
			shared[[2]int{g.inode, w.inode}] = true
		}
	}
	gotOf, wantOf := map[int]int{}, map[int]int{}
	for pair := range shared {
		if w, ok := gotOf[pair[0]]; ok && w != pair[1] {
			diffs = append(diffs, fmt.Sprintf("names share a file that the reference keeps apart (%v)", pair))
		}
		if g, ok := wantOf[pair[1]]; ok && g != pair[0] {
			diffs = append(diffs, fmt.Sprintf("names that share a file in the reference are apart (%v)", pair))
		}
		gotOf[pair[0]], wantOf[pair[1]] = pair[1], pair[0]
	}
	return strings.Join(diffs, "\n")
}

// TestThroughSymlinkOfTheLayer writes through a symlink the same layer
// made, as Docker's extraction does: /tools → /usr/bin, then /tools/su2
// is /usr/bin/su2, and /tools stays a symlink; a hard link whose target
// goes through it is applied. A lower layer's symlink is not followed, and
// a symlink of the layer to a directory the layer does not hold cannot be
// written through (Docker fails to apply the layer).
func TestThroughSymlinkOfTheLayer(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1"},
		it.By("base", it.Layer(t, it.Dir("usr"), it.Dir("usr/bin"), it.Symlink("lower", "/usr/bin"))),
		it.By("tools", it.Layer(t,
			it.Dir("usr"), it.Dir("usr/bin"), it.Symlink("tools", "/usr/bin"), it.Symlink("rel", "usr/./bin"),
			it.Entry{Name: "tools/su2", Size: 100, Mode: 0o4755},
			it.Entry{Name: "rel/sub/deep", Size: 10, Mode: 0o2755},
			it.Entry{Name: "copy", Hardlink: "tools/su2"},
			it.File("lower/file", 5),
		)),
	)
	a := analyze(t, img)
	var setuid []string
	for _, f := range a.Of(Setuid) {
		setuid = append(setuid, f.Path)
	}
	if got, want := strings.Join(setuid, " "), "/copy /usr/bin/su2 /usr/bin/sub/deep"; got != want {
		t.Errorf("setuid findings %q, want %q", got, want)
	}
	files := map[string]byte{}
	var all []FileInfo
	_, err := Analyze(t.Context(), img, Options{Compression: Estimated, Files: func(f FileInfo) { all = append(all, f); files[f.Path] = f.Type }})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]byte{"/tools": tar.TypeSymlink, "/rel": tar.TypeSymlink, "/lower": tar.TypeDir, "/lower/file": tar.TypeReg, "/usr/bin/su2": tar.TypeReg} {
		if files[p] != want {
			t.Errorf("%s is of type %q, want %q (%v)", p, files[p], want, all)
		}
	}
	if _, ok := files["/tools/su2"]; ok {
		t.Error("/tools/su2 is a path of its own")
	}

	for name, layer := range map[string]v1.Layer{
		"to a lower layer's directory": it.Layer(t, it.Symlink("t", "/usr/bin"), it.File("t/x", 1)),
		"to a file":                    it.Layer(t, it.File("f", 1), it.Symlink("t", "f"), it.File("t/x", 1)),
		"dangling":                     it.Layer(t, it.Symlink("t", "/nowhere"), it.File("t/x", 1)),
		"a loop":                       it.Layer(t, it.Symlink("t", "u"), it.Symlink("u", "t"), it.File("t/x", 1)),
	} {
		img := it.Image(t, v1.Config{}, it.By("base", it.Layer(t, it.Dir("usr"), it.Dir("usr/bin"))), it.By("bad", layer))
		if _, err := Analyze(t.Context(), img, Options{Compression: Estimated}); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%s: err = %v, want one naming the symlink", name, err)
		}
	}
}

// TestHardLinkHeaderMode gives a file its hard link header's mode and
// owner, as Docker does: a link can make an executable setuid.
func TestHardLinkHeaderMode(t *testing.T) {
	img := it.Image(t, v1.Config{User: "1"},
		it.By("tools", it.Layer(t,
			it.Dir("bin"), it.Executable("bin/tool", 10),
			it.Entry{Name: "bin/tool2", Hardlink: "bin/tool", Mode: 0o4755},
		)),
	)
	if got := findingPaths(analyze(t, img), Setuid); got != "/bin/tool /bin/tool2" {
		t.Errorf("setuid findings %q, want both names of the file", got)
	}
}

// TestLinkMakesAShell: a 0644 ELF file named sh is no program until a hard
// link's header makes it executable, as Docker applies it.
func TestLinkMakesAShell(t *testing.T) {
	elf := append([]byte("\x7fELF"), make([]byte, 100)...)
	img := it.Image(t, v1.Config{User: "1"},
		it.By("hidden", it.Layer(t,
			it.Dir("bin"), it.Entry{Name: "bin/sh", Content: elf, Mode: 0o644},
			it.Entry{Name: "opt/x", Hardlink: "bin/sh", Mode: 0o755},
		)),
	)
	if got := findingPaths(analyze(t, img), Shell); got != "/bin/sh" {
		t.Errorf("shell findings %q, want /bin/sh", got)
	}
}

// findingPaths lists the paths of img's findings of kind k.
func findingPaths(img *Image, k Kind) string {
	var paths []string
	for _, f := range img.Of(k) {
		paths = append(paths, f.Path)
	}
	return strings.Join(paths, " ")
}
