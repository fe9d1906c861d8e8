package report

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"

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
	SizeBytes                                      int64
	Files                                          string
	HasTree                                        bool
	Layers                                         []htmlLayer
	Advice                                         []htmlAdvice
	Packages                                       []htmlPackage
}

type htmlLayer struct {
	N                                           int
	Instruction                                 string
	Size, Visible, Hidden, Reclaimable          string
	VisibleBytes, HiddenBytes, ReclaimableBytes int64
	Width                                       float64 // of the largest layer's bar, in percent
}

type htmlAdvice struct{ Bytes, What, Where, Fix string }

type htmlPackage struct {
	Bytes, Kind, Name, Version string
	Files, Layer               int
}

// htmlData is the data the script draws from.
type htmlData struct {
	Images []htmlDataImage `json:"images"`
}

type htmlDataImage struct {
	Layers []htmlDataLayer `json:"layers"`
	Tree   *htmlTree       `json:"tree,omitempty"`
}

type htmlDataLayer struct {
	Instruction string `json:"instruction"`
}

// htmlTree is a TreeNode with short names, to keep the page small.
type htmlTree struct {
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
	for _, img := range images {
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
		for i, l := range img.Layers {
			visible := max(l.Size-l.Hidden-reclaimable[i], 0)
			h.Layers = append(h.Layers, htmlLayer{
				N: i + 1, Instruction: l.Instruction, Size: size.Format(l.Size), Visible: size.Format(visible),
				Hidden: size.Format(l.Hidden), Reclaimable: size.Format(reclaimable[i]),
				VisibleBytes: visible, HiddenBytes: l.Hidden, ReclaimableBytes: reclaimable[i],
				Width: 100 * float64(l.Size) / float64(largest),
			})
			d.Layers = append(d.Layers, htmlDataLayer{l.Instruction})
		}
		for _, a := range img.Advice {
			h.Advice = append(h.Advice, htmlAdvice{size.Format(a.Bytes), a.What, adviceWhere(img, a), a.Fix})
		}
		if img.Packages.Count > 0 {
			h.PackagesLine = packagesLine(img)
			for _, p := range img.Packages.List {
				h.Packages = append(h.Packages, htmlPackage{size.Format(p.Bytes), p.Kind, p.Name, p.Version, p.Files, p.Layer})
			}
		}
		page.Images = append(page.Images, h)
		page.Data.Images = append(page.Data.Images, d)
	}
	return htmlPage.Execute(w, page)
}
