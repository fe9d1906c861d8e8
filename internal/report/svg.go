package report

import (
	"fmt"
	"html"
	"io"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/size"
)

// SVG layout, in pixels.
const (
	svgWidth     = 760
	svgLabelW    = 250 // image names
	svgBarMax    = 360 // the longest bar
	svgTop       = 58
	svgRowHeight = 58
	svgBarHeight = 18
)

// svgStyle follows the reader's colour scheme, so the chart reads on a
// light or a dark README page alike.
const svgStyle = `text{font:13px -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;fill:#24292f}` +
	`.title{font-size:16px;font-weight:600}.muted{fill:#57606a;font-size:12px}` +
	`.bg{fill:#ffffff}.u{fill:#0969da}.c{fill:#54aeff}.grid{stroke:#d0d7de}` +
	`@media (prefers-color-scheme:dark){text{fill:#e6edf3}.muted{fill:#8d96a0}.bg{fill:#0d1117}.u{fill:#2f81f7}.c{fill:#79c0ff}.grid{stroke:#30363d}}`

// SVG writes a horizontal bar chart of each image's uncompressed and
// compressed size, on one linear scale so the bars compare honestly.
func SVG(w io.Writer, images []*analysis.Image) error {
	var largest int64 = 1
	for _, img := range images {
		largest = max(largest, img.Size, img.CompressedSize)
	}
	height := svgTop + len(images)*svgRowHeight + 16
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="title">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(w, "<title id=\"title\">Image sizes: uncompressed and compressed</title>\n<style>%s</style>\n", svgStyle)
	fmt.Fprintf(w, `<rect class="bg" width="%d" height="%d" rx="6"/>`+"\n", svgWidth, height)
	fmt.Fprintln(w, `<text class="title" x="16" y="26">Image size</text>`)
	fmt.Fprintf(w, `<rect class="u" x="%d" y="15" width="12" height="12" rx="2"/><text class="muted" x="%d" y="26">uncompressed (docker images)</text>`+"\n", svgLabelW, svgLabelW+18)
	fmt.Fprintf(w, `<rect class="c" x="%d" y="15" width="12" height="12" rx="2"/><text class="muted" x="%d" y="26">compressed (registry, pull)</text>`+"\n", svgLabelW+210, svgLabelW+228)
	fmt.Fprintf(w, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", svgLabelW, svgTop-8, svgLabelW, height-12)

	for i, img := range images {
		y := svgTop + i*svgRowHeight
		fmt.Fprintf(w, `<text x="16" y="%d">%s</text>`+"\n", y+14, html.EscapeString(truncate(img.Name, 32)))
		note := "baseline"
		if i > 0 {
			r := analysis.Reduce(images[0].Size, img.Size)
			note = fmt.Sprintf("%.1f%% smaller (%.0fx)", r.Percent, r.Factor)
		}
		note += "; compressed: " + compression(img) + "; efficiency " + efficiency(img)
		fmt.Fprintf(w, `<text class="muted" x="16" y="%d">%s</text>`+"\n", y+32, html.EscapeString(note))
		bar(w, "u", y, img.Size, largest)
		bar(w, "c", y+svgBarHeight+2, img.CompressedSize, largest)
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

func bar(w io.Writer, class string, y int, n, largest int64) {
	width := max(2, int(float64(svgBarMax)*float64(n)/float64(largest)+0.5))
	fmt.Fprintf(w, `<rect class="%s" x="%d" y="%d" width="%d" height="%d" rx="3"/>`, class, svgLabelW, y, width, svgBarHeight)
	fmt.Fprintf(w, `<text x="%d" y="%d">%s</text>`+"\n", svgLabelW+width+8, y+14, html.EscapeString(size.Format(n)))
}
