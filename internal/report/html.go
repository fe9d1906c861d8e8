package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	"github.com/rastringer/docker_multistage/internal/size"
)

var (
	//go:embed html/report.html
	htmlShell string
	//go:embed html/report.js
	htmlScript string
	//go:embed html/report.css
	htmlStyle string
)

// The page is a fixed shell, its style and script, and the data the
// script builds the page from: JSON, whose encoder escapes <, > and &,
// so nothing in it can end the script element. The script sets every
// name from an image as text, never as markup.
type htmlData struct {
	Images  []htmlImage  `json:"images"`
	Results []htmlResult `json:"results,omitempty"`
}

type htmlResult struct {
	Image     string `json:"image"`
	Rule      string `json:"rule"`
	Limit     string `json:"limit"`
	Violation string `json:"violation,omitempty"`
}

type htmlImage struct {
	Name    string `json:"name"`
	Figures string `json:"figures"`
	// Tree is the final filesystem; Top its largest top-level
	// directories and files, for those who read numbers rather than
	// boxes.
	Tree *htmlTree `json:"tree,omitempty"`
	Top  []htmlTop `json:"top,omitempty"`
	// Growth is what the image's paths added over the baseline.
	Growth       *htmlTree     `json:"growth,omitempty"`
	GrowthSize   string        `json:"growth_size,omitempty"`
	Baseline     string        `json:"baseline,omitempty"`
	Layers       []htmlLayer   `json:"layers"`
	Advice       []htmlAdvice  `json:"advice,omitempty"`
	PackagesLine string        `json:"packages_line,omitempty"`
	Packages     []htmlPackage `json:"packages,omitempty"`
}

type htmlTop struct {
	Name  string `json:"name"`
	Size  string `json:"size"`
	Share string `json:"share"`
	Bytes int64  `json:"bytes"`
}

type htmlLayer struct {
	Instruction      string  `json:"instruction"`
	Size             string  `json:"size"`
	SizeBytes        int64   `json:"size_bytes"`
	Visible          string  `json:"visible"`
	VisibleBytes     int64   `json:"visible_bytes"`
	Hidden           string  `json:"hidden"`
	HiddenBytes      int64   `json:"hidden_bytes"`
	Reclaimable      string  `json:"reclaimable"`
	ReclaimableBytes int64   `json:"reclaimable_bytes"`
	Width            float64 `json:"width"` // of the largest layer's bar, in percent
}

type htmlAdvice struct {
	Size  string `json:"size"`
	Bytes int64  `json:"bytes"`
	What  string `json:"what"`
	Where string `json:"where"`
	Fix   string `json:"fix"`
}

type htmlPackage struct {
	Size    string `json:"size"`
	Bytes   int64  `json:"bytes"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Files   int    `json:"files"`
	Layer   int    `json:"layer"`
}

// htmlTree is a TreeNode with short names, to keep the page small.
type htmlTree struct {
	Change   string      `json:"change,omitempty"` // in a growth tree: added or grown
	Name     string      `json:"n"`
	Bytes    int64       `json:"b"`
	Layer    int         `json:"l,omitempty"`
	Package  string      `json:"p,omitempty"`
	Children []*htmlTree `json:"c,omitempty"`
}

func treeData(t *analysis.TreeNode) *htmlTree {
	if t == nil {
		return nil
	}
	out := &htmlTree{Name: t.Name, Bytes: t.Bytes, Layer: t.Layer, Package: t.Package}
	for _, c := range t.Children {
		out.Children = append(out.Children, treeData(c))
	}
	if t.Children != nil && out.Children == nil {
		out.Children = []*htmlTree{}
	}
	return out
}

// growthTree is what b's tree holds beyond a's, path by path: a path a
// lacks is added whole, one it holds fewer bytes of has grown by the
// difference; a directory holds what its paths added. Gathered small
// files compare by their directory's totals. Nil when nothing grew.
func growthTree(a, b *analysis.TreeNode) *htmlTree {
	if b == nil {
		return nil
	}
	if a == nil {
		t := treeData(b)
		markAdded(t)
		return t
	}
	if b.Children == nil || a.Children == nil {
		if b.Bytes <= a.Bytes {
			return nil
		}
		return &htmlTree{Change: "grown", Name: b.Name, Bytes: b.Bytes - a.Bytes, Layer: b.Layer, Package: b.Package}
	}
	before := map[string]*analysis.TreeNode{}
	for _, c := range a.Children {
		before[c.Name] = c
	}
	out := &htmlTree{Name: b.Name, Children: []*htmlTree{}}
	for _, c := range b.Children {
		if g := growthTree(before[c.Name], c); g != nil {
			g.Name = c.Name
			out.Bytes += g.Bytes
			out.Children = append(out.Children, g)
		}
	}
	if out.Bytes == 0 {
		return nil
	}
	sort.SliceStable(out.Children, func(i, j int) bool { return out.Children[i].Bytes > out.Children[j].Bytes })
	return out
}

// markAdded marks a tree's files as added.
func markAdded(t *htmlTree) {
	if t.Children == nil {
		t.Change = "added"
	}
	for _, c := range t.Children {
		markAdded(c)
	}
}

// csp is a Content-Security-Policy source for content: its hash.
func csp(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// HTML writes one self-contained page: for each image a treemap of its
// final filesystem (with Options.Tree), its layers, what to change and
// its packages; the gates with their verdicts. It fetches nothing: its
// style and script are inline, and its Content-Security-Policy forbids
// any request and runs no script but its own.
func HTML(w io.Writer, images []*analysis.Image, results []budget.Result) error {
	var data htmlData
	for _, r := range results {
		data.Results = append(data.Results, htmlResult{r.Image, r.Rule, r.Limit, r.Violation})
	}
	for i, img := range images {
		platform := img.OS + "/" + img.Architecture
		if img.Variant != "" {
			platform += "/" + img.Variant
		}
		h := htmlImage{
			Name: img.Name, Tree: treeData(img.Tree),
			Figures: fmt.Sprintf("%s uncompressed (%d bytes), %s compressed; %d files; %s", size.Format(img.Size), img.Size, size.Format(img.CompressedSize), img.Files, platform),
		}
		if img.Tree != nil {
			for _, c := range img.Tree.Children {
				h.Top = append(h.Top, htmlTop{c.Name, size.Format(c.Bytes), fmt.Sprintf("%.1f%%", 100*float64(c.Bytes)/float64(max(img.Tree.Bytes, 1))), c.Bytes})
			}
		}
		if i > 0 && img.Tree != nil && images[0].Tree != nil {
			if h.Growth = growthTree(images[0].Tree, img.Tree); h.Growth != nil {
				h.Baseline, h.GrowthSize = images[0].Name, size.Format(h.Growth.Bytes)
			}
		}
		reclaimable := make([]int64, len(img.Layers))
		for _, r := range img.Reclaimable {
			if r.Layer >= 1 && r.Layer <= len(reclaimable) {
				reclaimable[r.Layer-1] += r.Bytes
			}
		}
		var largest int64 = 1
		for _, l := range img.Layers {
			largest = max(largest, l.Size)
		}
		for i, l := range img.Layers {
			visible := max(l.Size-l.Hidden-reclaimable[i], 0)
			h.Layers = append(h.Layers, htmlLayer{
				Instruction: l.Instruction, Size: size.Format(l.Size), SizeBytes: l.Size,
				Visible: size.Format(visible), VisibleBytes: visible, Hidden: size.Format(l.Hidden), HiddenBytes: l.Hidden,
				Reclaimable: size.Format(reclaimable[i]), ReclaimableBytes: reclaimable[i],
				Width: 100 * float64(l.Size) / float64(largest),
			})
		}
		for _, a := range img.Advice {
			h.Advice = append(h.Advice, htmlAdvice{size.Format(a.Bytes), a.Bytes, a.What, adviceWhere(img, a), a.Fix})
		}
		if img.Packages.Count > 0 {
			h.PackagesLine = packagesLine(img)
			for _, p := range img.Packages.List {
				h.Packages = append(h.Packages, htmlPackage{size.Format(p.Bytes), p.Bytes, p.Kind, p.Name, p.Version, p.Files, p.Layer})
			}
		}
		data.Images = append(data.Images, h)
	}
	var js bytes.Buffer
	if err := json.NewEncoder(&js).Encode(data); err != nil { // escapes <, > and &
		return err
	}
	// The shell's places, in order; what goes in them is never searched.
	parts := []struct{ place, content string }{
		{"SCRIPT_HASH", csp(htmlScript)}, {"STYLE", htmlStyle}, {"DATA", strings.TrimSpace(js.String())}, {"SCRIPT", htmlScript},
	}
	rest := htmlShell
	var page strings.Builder
	for _, p := range parts {
		before, after, ok := strings.Cut(rest, p.place)
		if !ok {
			return fmt.Errorf("the page's shell has no %s", p.place)
		}
		page.WriteString(before)
		page.WriteString(p.content)
		rest = after
	}
	page.WriteString(rest)
	_, err := io.WriteString(w, page.String())
	return err
}
