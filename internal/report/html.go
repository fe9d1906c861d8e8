package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"sort"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	"github.com/rastringer/docker_multistage/internal/size"
)

var (
	//go:embed html/report.html.tmpl
	htmlTemplate string
	//go:embed html/report.js
	htmlScript string
	//go:embed html/report.css
	htmlStyle string

	htmlPage = template.Must(template.New("report").Parse(htmlTemplate))
)

// htmlImage is what the page shows of one image; its tree goes to the
// script as data.
type htmlImage struct {
	Name, Size, Compressed, Platform, PackagesLine string
	// Top are the final filesystem's largest top-level directories and
	// files, for those who read numbers rather than boxes.
	Top []htmlTop
	// HasGrowth: the image is not the baseline; GrowthSize is what its
	// paths added.
	HasGrowth            bool
	Baseline, GrowthSize string
	SizeBytes            int64
	Files                string
	HasTree              bool
	Layers               []htmlLayer
	Advice               []htmlAdvice
	Packages             []htmlPackage
}

type htmlTop struct {
	Name, Size, Share string
	Bytes             int64
}

type htmlLayer struct {
	N                                           int
	SizeBytes                                   int64
	Instruction                                 string
	Size, Visible, Hidden, Reclaimable          string
	VisibleBytes, HiddenBytes, ReclaimableBytes int64
	Width                                       float64 // of the largest layer's bar, in percent
}

type htmlAdvice struct {
	Bytes, What, Where, Fix string
	Sort                    int64
}

type htmlPackage struct {
	Bytes, Kind, Name, Version string
	Files, Layer               int
	Sort                       int64
}

// htmlData is the data the script draws from.
type htmlData struct {
	Images []htmlDataImage `json:"images"`
}

type htmlDataImage struct {
	Layers []htmlDataLayer `json:"layers"`
	Tree   *htmlTree       `json:"tree,omitempty"`
	Growth *htmlTree       `json:"growth,omitempty"`
}

type htmlDataLayer struct {
	Instruction string `json:"instruction"`
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
// any request.
func HTML(w io.Writer, images []*analysis.Image, results []budget.Result) error {
	page := struct {
		Images     []htmlImage
		Results    []budget.Result
		Style      template.CSS
		Script     template.JS
		ScriptHash string
		Data       htmlData
	}{Results: results, Style: template.CSS(htmlStyle), Script: template.JS(htmlScript), ScriptHash: csp(htmlScript)}
	for i, img := range images {
		h := htmlImage{
			Name: img.Name, Size: size.Format(img.Size), SizeBytes: img.Size, Compressed: size.Format(img.CompressedSize),
			Platform: img.OS + "/" + img.Architecture, Files: fmt.Sprint(img.Files), HasTree: img.Tree != nil,
		}
		if img.Variant != "" {
			h.Platform += "/" + img.Variant
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
		d := htmlDataImage{Tree: treeData(img.Tree)}
		if img.Tree != nil {
			for _, c := range img.Tree.Children {
				h.Top = append(h.Top, htmlTop{c.Name, size.Format(c.Bytes), fmt.Sprintf("%.1f%%", 100*float64(c.Bytes)/float64(max(img.Tree.Bytes, 1))), c.Bytes})
			}
		}
		if i > 0 && img.Tree != nil && images[0].Tree != nil {
			if d.Growth = growthTree(images[0].Tree, img.Tree); d.Growth != nil {
				h.HasGrowth, h.Baseline, h.GrowthSize = true, images[0].Name, size.Format(d.Growth.Bytes)
			}
		}
		for i, l := range img.Layers {
			visible := max(l.Size-l.Hidden-reclaimable[i], 0)
			h.Layers = append(h.Layers, htmlLayer{
				N: i + 1, SizeBytes: l.Size, Instruction: l.Instruction, Size: size.Format(l.Size), Visible: size.Format(visible),
				Hidden: size.Format(l.Hidden), Reclaimable: size.Format(reclaimable[i]),
				VisibleBytes: visible, HiddenBytes: l.Hidden, ReclaimableBytes: reclaimable[i],
				Width: 100 * float64(l.Size) / float64(largest),
			})
			d.Layers = append(d.Layers, htmlDataLayer{l.Instruction})
		}
		for _, a := range img.Advice {
			h.Advice = append(h.Advice, htmlAdvice{size.Format(a.Bytes), a.What, adviceWhere(img, a), a.Fix, a.Bytes})
		}
		if img.Packages.Count > 0 {
			h.PackagesLine = packagesLine(img)
			for _, p := range img.Packages.List {
				h.Packages = append(h.Packages, htmlPackage{size.Format(p.Bytes), p.Kind, p.Name, p.Version, p.Files, p.Layer, p.Bytes})
			}
		}
		page.Images = append(page.Images, h)
		page.Data.Images = append(page.Data.Images, d)
	}
	return htmlPage.Execute(w, page)
}
