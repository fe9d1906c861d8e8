package analysis

import (
	"archive/tar"
	"path"
	"sort"
	"strings"
)

// Waste is dive's account of the bytes an image carries for nothing:
// files that later layers replace or remove still take their space in the
// layers below. The definitions are dive's (github.com/wagoodman/dive,
// dive/filetree/efficiency.go and dive/image/image.go), so the figures
// match dive's and its CI rules carry over:
//   - each layer is read as a tree of its own entries, and every leaf of it
//     (a file, a link, an empty directory, a whiteout) is a reference to
//     its path: a whiteout refers to the path it removes, with the size of
//     everything under it when it removes a directory, else 0; any other
//     entry with the size its tar header gives (0 for links and
//     directories). Opaque whiteouts are not counted, as dive skips them;
//   - a path's cumulative size is the sum over its references, its minimum
//     the smallest of them;
//   - Efficiency is the sum of the minimums over the sum of the cumulative
//     sizes, over every path; 1 when there is nothing;
//   - WastedBytes is the sum of the cumulative sizes of the paths with two
//     references or more;
//   - UserWastedPercent is WastedBytes over the bytes of every layer but
//     the first (the sum of their tar header sizes), in percent; dive
//     reports the same as a fraction.
type Waste struct {
	Efficiency        float64
	WastedBytes       int64
	UserSize          int64
	UserWastedPercent float64
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
	cumulative, min int64
	references      int
}

// wasteCounter gathers the references of every layer.
type wasteCounter struct {
	paths    map[string]*pathUse
	userSize int64
	// The current layer's entries by tar name (the last of a name wins, as
	// in dive's tree), and each entry's path and size.
	layer map[string]wasteEntry
}

type wasteEntry struct {
	path string // the path referred to: a whiteout's target
	size int64
}

func newWasteCounter() *wasteCounter {
	return &wasteCounter{paths: map[string]*pathUse{}}
}

// entry records one tar entry of layer index. removed is the size of what
// a whiteout removes, measured before it is applied.
func (w *wasteCounter) entry(h *tar.Header, parts []string, index int, removed int64) {
	if w.layer == nil {
		w.layer = map[string]wasteEntry{}
	}
	if index > 0 {
		w.userSize += h.Size
	}
	if len(parts) == 0 {
		return
	}
	base := parts[len(parts)-1]
	if base == whiteoutOpaque {
		return
	}
	name := "/" + strings.Join(parts, "/")
	e := wasteEntry{path: name, size: h.Size}
	if target, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		e = wasteEntry{path: path.Join(path.Dir(name), target), size: removed}
	}
	w.layer[name] = e
}

// endLayer counts the leaves of the layer just read.
func (w *wasteCounter) endLayer() {
	inner := map[string]bool{}
	for name := range w.layer {
		for d := path.Dir(name); d != "/" && !inner[d]; d = path.Dir(d) {
			inner[d] = true
		}
	}
	for name, e := range w.layer {
		if inner[name] {
			continue
		}
		u, ok := w.paths[e.path]
		if !ok {
			u = &pathUse{min: e.size}
			w.paths[e.path] = u
		}
		u.cumulative += e.size
		u.min = min(u.min, e.size)
		u.references++
	}
	w.layer = nil
}

// result computes the figures, keeping the top most wasted paths.
func (w *wasteCounter) result(top int) Waste {
	out := Waste{Efficiency: 1, UserSize: w.userSize}
	var minimums, cumulative int64
	for p, u := range w.paths {
		minimums += u.min
		cumulative += u.cumulative
		if u.references > 1 {
			out.WastedBytes += u.cumulative
			out.Paths = append(out.Paths, WastedPath{p, u.references, u.cumulative})
		}
	}
	if cumulative > 0 {
		out.Efficiency = float64(minimums) / float64(cumulative)
	}
	if w.userSize > 0 {
		out.UserWastedPercent = 100 * float64(out.WastedBytes) / float64(w.userSize)
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
