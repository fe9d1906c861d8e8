// Package report renders the analysis of one or more images as an aligned
// text table, markdown, JSON, JUnit XML or an SVG bar chart. The first image is the
// baseline: every other one is shown with its reduction against it.
package report

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	"github.com/rastringer/docker_multistage/internal/size"
)

// Formats lists the output formats, for -o.
var Formats = []string{"table", "markdown", "json", "junit", "svg", "html"}

// Write renders images in format to w. results are the rules of a budget
// checked on them, if one was set (budget.Evaluate).
func Write(w io.Writer, format string, images []*analysis.Image, results []budget.Result) error {
	switch format {
	case "table":
		return Table(w, images)
	case "markdown":
		return Markdown(w, images, budget.Violations(results))
	case "json":
		return JSON(w, images, budget.Violations(results))
	case "junit":
		return JUnit(w, images, results)
	case "svg":
		return SVG(w, images)
	case "html":
		return HTML(w, images, results)
	}
	return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// reduction formats an image's reduction against the baseline, or
// "baseline" for the baseline itself. A compressed reduction between sizes
// obtained differently is marked with a *.
func reduction(images []*analysis.Image, i int, compressed bool) string {
	if i == 0 {
		return "baseline"
	}
	base, size := images[0].Size, images[i].Size
	if compressed {
		base, size = images[0].CompressedSize, images[i].CompressedSize
	}
	if !compressed && (images[0].ManifestOnly || images[i].ManifestOnly) {
		return "-"
	}
	r := analysis.Reduce(base, size)
	mark := ""
	if compressed && !sameSource(images[0], images[i]) {
		mark = "*"
	}
	return fmt.Sprintf("%.1f%% (%.1fx)%s", r.Percent, r.Factor, mark)
}

// sameSource reports whether two images' compressed sizes were obtained
// the same way, so that comparing them is like for like.
func sameSource(a, b *analysis.Image) bool {
	return a.Compression == b.Compression && strings.Join(a.Formats, ",") == strings.Join(b.Formats, ",")
}

// compression says how an image's compressed size was obtained: estimated
// gzip, computed gzip, stored zstd…
func compression(img *analysis.Image) string {
	return string(img.Compression) + " " + strings.Join(img.Formats, "+")
}

// column is a column of the summary table, in the table and markdown
// formats: its header in each ("" leaves it out of that format), and its
// cell for image i of images, escaped for markdown when md.
type column struct {
	table, markdown string
	right           bool // a figure: right-aligned in markdown
	cell            func(images []*analysis.Image, i int, md bool) string
}

// of makes a cell of what an image alone tells.
func of(f func(img *analysis.Image) string) func([]*analysis.Image, int, bool) string {
	return func(images []*analysis.Image, i int, md bool) string {
		if md {
			return mdEscape(f(images[i]))
		}
		return f(images[i])
	}
}

// findingCell says whether an image has findings of a kind: yes or no in
// the table, with the first path in markdown.
func findingCell(k analysis.Kind) func([]*analysis.Image, int, bool) string {
	return func(images []*analysis.Image, i int, md bool) string {
		if md {
			return mdEscape(yesNo(images[i], k))
		}
		return known(images[i], yesOrNo(images[i].Has(k)))
	}
}

var columns = []column{
	{"IMAGE", "Image", false, func(images []*analysis.Image, i int, md bool) string {
		if md {
			return mdCode(images[i].Name)
		}
		return images[i].Name
	}},
	{"PLATFORM", "", false, of(platform)},
	{"", "Architecture", false, of(func(img *analysis.Image) string { return img.Architecture })},
	{"", "Os", false, of(func(img *analysis.Image) string { return img.OS })},
	{"", "Size (bytes)", true, of(func(img *analysis.Image) string { return known(img, fmt.Sprint(img.Size)) })},
	{"SIZE", "Size", true, of(func(img *analysis.Image) string { return known(img, size.Format(img.Size)) })},
	{"REDUCTION", "Reduction", true, func(images []*analysis.Image, i int, md bool) string { return reduction(images, i, false) }},
	{"COMPRESSED", "Compressed", true, of(func(img *analysis.Image) string { return size.Format(img.CompressedSize) })},
	{"COMPRESSION", "Compression", false, of(compression)},
	{"REDUCTION", "Reduction", true, func(images []*analysis.Image, i int, md bool) string {
		if md {
			return mdEscape(reduction(images, i, true))
		}
		return reduction(images, i, true)
	}},
	{"LAYERS", "Layers", true, of(func(img *analysis.Image) string { return fmt.Sprint(len(img.Layers)) })},
	{"FILES", "Files", true, of(func(img *analysis.Image) string { return known(img, fmt.Sprint(img.Files)) })},
	{"EFFICIENCY", "Efficiency", true, of(efficiency)},
	{"WASTED", "Wasted", true, of(func(img *analysis.Image) string { return known(img, size.Format(img.Waste.WastedBytes)) })},
	{"USER", "User", false, of(user)},
	{"SHELL", "Shell", false, findingCell(analysis.Shell)},
	{"PKG MANAGER", "Package manager", false, findingCell(analysis.PackageManager)},
	{"TOOLCHAIN", "Toolchain", false, findingCell(analysis.Toolchain)},
}

// note explains a term of the summary table; term is the table's header
// for it, as the table prints it (markdown capitalises it), or empty.
type note struct{ term, text string }

// notes are what the table and markdown formats say under the summary.
func notes(images []*analysis.Image) []note {
	out := []note{
		{"SIZE", " is uncompressed, as docker image inspect reports it; compressed is what a registry stores and a pull downloads."},
		{"COMPRESSION", ": stored = the layer sizes the source holds, as a registry does; computed = gzip level 6 here, " +
			"as docker push compresses; estimated = the computed size estimated from samples, within 2% on real images (--exact-compressed computes it)."},
	}
	for _, img := range images[min(1, len(images)):] {
		if !sameSource(images[0], img) {
			out = append(out, note{"*", " compressed sizes obtained differently (see compression): not like for like."})
			break
		}
	}
	return append(out,
		note{"EFFICIENCY", " and wasted are dive's: bytes of files that later layers replace or remove."},
		note{"", "kB, MB, GB are powers of 1000."})
}

func efficiency(img *analysis.Image) string {
	if img.ManifestOnly {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*img.Waste.Efficiency)
}

// wastedShare says what share of the layers above the first is wasted.
func wastedShare(img *analysis.Image) string {
	if math.IsInf(img.Waste.UserWastedPercent, 0) {
		return "though the layers above the first hold no bytes"
	}
	return fmt.Sprintf("%.2f%% of the layers above the first", img.Waste.UserWastedPercent)
}

// known shows a figure that reading the layers gives, or "-" when only the
// manifest was read.
func known(img *analysis.Image, s string) string {
	if img.ManifestOnly {
		return "-"
	}
	return s
}

func labels(img *analysis.Image) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(img.Labels)) {
		parts = append(parts, k+"="+img.Labels[k])
	}
	return orNone(strings.Join(parts, ", "))
}

func platform(img *analysis.Image) string {
	p := img.OS + "/" + img.Architecture
	if img.Variant != "" {
		p += "/" + img.Variant
	}
	return p
}

func user(img *analysis.Image) string {
	u := img.User
	if u == "" {
		u = "(none)"
	}
	if img.Root {
		u += " root"
	}
	return u
}

// yesNo shows whether an image has findings of a kind, with the first path.
func yesNo(img *analysis.Image, k analysis.Kind) string {
	found := img.Of(k)
	switch len(found) {
	case 0:
		return "no"
	case 1:
		return "yes: " + found[0].Path
	}
	return fmt.Sprintf("yes: %s +%d", found[0].Path, len(found)-1)
}

func command(img *analysis.Image) string {
	return strings.Join(append(append([]string{}, img.Entrypoint...), img.Cmd...), " ")
}

// Table writes an aligned summary table, then the details of each image:
// layers, largest files and findings.
func Table(w io.Writer, images []*analysis.Image) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var header []string
	for _, c := range columns {
		if c.table != "" {
			header = append(header, c.table)
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for i := range images {
		var row []string
		for _, c := range columns {
			if c.table != "" {
				row = append(row, c.cell(images, i, false))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range notes(images) {
		fmt.Fprintln(w, n.term+n.text)
	}

	for _, img := range images {
		fmt.Fprintf(w, "\n%s  (%s, %s, %s)\n", img.Name, img.Source, platform(img), shortID(img.ID))
		if img.ManifestOnly {
			fmt.Fprintf(w, "  manifest only: compressed %s (%s); size, files, waste and filesystem findings not read\n", size.Exact(img.CompressedSize), compression(img))
		} else {
			fmt.Fprintf(w, "  size %s, compressed %s (%s)\n", size.Exact(img.Size), size.Exact(img.CompressedSize), compression(img))
			fmt.Fprintf(w, "  efficiency %s, wasted %s, %s\n",
				efficiency(img), size.Exact(img.Waste.WastedBytes), wastedShare(img))
			fmt.Fprintf(w, "  hidden %s\n", hiddenLine(img))
		}
		fmt.Fprintf(w, "  user %s, command %q, ports %s, healthcheck %s\n",
			user(img), command(img), orNone(strings.Join(img.Ports, " ")), orNone(strings.Join(img.Healthcheck, " ")))
		fmt.Fprintf(w, "  labels %s\n", labels(img))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  LAYER\tSIZE\tCOMPRESSED\tFILES\tHIDDEN LATER\t  CREATED BY")
		for i, l := range img.Layers {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t  %s\n", i+1, known(img, size.Format(l.Size)), layerCompressed(l), known(img, fmt.Sprint(l.Files)), known(img, size.Format(l.Hidden)), truncate(madeBy(l), 70))
		}
		tw.Flush()
		if n := sameBlobs(img); n != "" {
			fmt.Fprintf(w, "  %s\n", n)
		}
		if len(img.Largest) > 0 {
			fmt.Fprintln(w, "  largest files:")
			for _, f := range img.Largest {
				fmt.Fprintf(w, "    %9s  %s\n", size.Format(f.Size), f.Path)
			}
		}
		if len(img.Waste.Paths) > 0 {
			fmt.Fprintln(w, "  most wasted paths:")
			for _, p := range img.Waste.Paths {
				fmt.Fprintf(w, "    %9s  %d refs  %s\n", size.Format(p.Size), p.References, p.Path)
			}
		}
		if len(img.Advice) > 0 {
			fmt.Fprintln(w, "  what to change (bytes it gives back, largest first):")
			for _, a := range img.Advice[:min(len(img.Advice), 10)] {
				fmt.Fprintf(w, "    %9s  %s  %s: %s\n", size.Format(a.Bytes), a.What, adviceWhere(img, a), a.Fix)
			}
		}
		if img.BaseFrom != "" {
			fmt.Fprintf(w, "  base: %s\n", baseLine(img))
		}
		if pk := img.Packages; pk.Count > 0 {
			fmt.Fprintf(w, "  packages: %s\n", packagesLine(img))
			for _, p := range pk.List {
				fmt.Fprintf(w, "    %9s  %s\n", size.Format(p.Bytes), packageText(img, p))
			}
			if len(pk.Unowned) > 0 {
				fmt.Fprintf(w, "  unowned: %s\n", unownedText(pk.Unowned))
			}
		}
		if len(img.Hidden.Paths) > 0 {
			fmt.Fprintln(w, "  largest hidden paths:")
			for _, p := range img.Hidden.Paths {
				fmt.Fprintf(w, "    %9s  %s  %s (layer %s, hidden by layer %s)\n", size.Format(p.Bytes), p.Cause, p.Path, layerRef(img, p.AddedBy), layerRef(img, p.HiddenBy))
			}
		}
		writeFindings(w, img, "  ")
	}
	// Broken rules are not repeated here: imgcompare prints each on
	// stderr, where a CI log shows it next to the exit status.
	return nil
}

func writeFindings(w io.Writer, img *analysis.Image, indent string) {
	what := "findings"
	if img.ManifestOnly {
		what = "findings (from the config alone)"
	}
	if len(img.Findings) == 0 {
		fmt.Fprintf(w, "%s%s: none\n", indent, what)
		return
	}
	fmt.Fprintf(w, "%s%s:\n", indent, what)
	for _, k := range analysis.Kinds {
		found := img.Of(k)
		if len(found) == 0 {
			continue
		}
		var parts []string
		for i, f := range found {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("and %d more", len(found)-5))
				break
			}
			p := f.Path
			if f.Detail != "" && p != "" {
				p += " (" + f.Detail + ")"
			} else if p == "" {
				p = f.Detail
			}
			parts = append(parts, p)
		}
		fmt.Fprintf(w, "%s  %s: %s\n", indent, k, strings.Join(parts, ", "))
	}
}

func yesOrNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func shortID(id string) string {
	if _, hex, ok := strings.Cut(id, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return id
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Markdown writes the comparison as GitHub-flavoured markdown tables.
func Markdown(w io.Writer, images []*analysis.Image, violations []budget.Violation) error {
	var header, align []string
	for _, c := range columns {
		if c.markdown != "" {
			header = append(header, c.markdown)
			align = append(align, map[bool]string{false: "---", true: "---:"}[c.right])
		}
	}
	fmt.Fprintf(w, "| %s |\n|%s|\n", strings.Join(header, " | "), strings.Join(align, "|"))
	for i := range images {
		var row []string
		for _, c := range columns {
			if c.markdown != "" {
				row = append(row, c.cell(images, i, true))
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintln(w)
	var text []string
	for _, n := range notes(images) {
		term := n.term
		if len(term) > 1 {
			term = term[:1] + strings.ToLower(term[1:])
		}
		text = append(text, mdEscape(term+n.text))
	}
	fmt.Fprintln(w, strings.Join(text, " "))
	for _, img := range images {
		fmt.Fprintf(w, "\n### `%s`\n\n", strings.ReplaceAll(img.Name, "`", "'"))
		fmt.Fprintf(w, "%s image, %s, user %s, command `%s`, ports %s, healthcheck %s.\n\n",
			img.Source, platform(img), mdEscape(user(img)), command(img), orNone(strings.Join(img.Ports, " ")), mdCode(strings.Join(img.Healthcheck, " ")))
		fmt.Fprintln(w, "| Layer | Size | Compressed | Files | Hidden later | Created by |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|")
		for i, l := range img.Layers {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s |\n", i+1, known(img, size.Format(l.Size)), layerCompressed(l), known(img, fmt.Sprint(l.Files)), known(img, size.Format(l.Hidden)), mdCode(truncate(madeBy(l), 90)))
		}
		// A blank line ends the table: GitHub takes a line right after one
		// for another row.
		if n := sameBlobs(img); n != "" {
			fmt.Fprintf(w, "\n%s\n", n)
		}
		fmt.Fprintf(w, "\nLabels: %s.\n\n", mdEscape(labels(img)))
		if img.ManifestOnly {
			fmt.Fprintln(w, "Manifest only: size, files, waste and filesystem findings not read.")
		} else {
			fmt.Fprintf(w, "Efficiency %s, wasted %s (%s).\n",
				efficiency(img), size.Exact(img.Waste.WastedBytes), wastedShare(img))
			fmt.Fprintf(w, "\nHidden: %s.\n", mdEscape(hiddenLine(img)))
			if pk := img.Packages; pk.Count > 0 {
				fmt.Fprintf(w, "\nPackages: %s.\n\n", packagesLine(img))
				fmt.Fprintln(w, "| Bytes | Package |")
				fmt.Fprintln(w, "|---:|---|")
				for _, p := range pk.List {
					fmt.Fprintf(w, "| %s | %s |\n", size.Format(p.Bytes), mdEscape(packageText(img, p)))
				}
				if len(pk.Unowned) > 0 {
					fmt.Fprintf(w, "\nUnowned: %s.\n", mdEscape(unownedText(pk.Unowned)))
				}
			}
			if len(img.Advice) > 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(w, "| Gives back | What | Where | Change |")
				fmt.Fprintln(w, "|---:|---|---|---|")
				for _, a := range img.Advice[:min(len(img.Advice), 10)] {
					fmt.Fprintf(w, "| %s | %s | %s | %s |\n", size.Format(a.Bytes), a.What, mdEscape(adviceWhere(img, a)), mdEscape(a.Fix))
				}
			}
		}
		if len(img.Waste.Paths) > 0 {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| Wasted | References | Path |")
			fmt.Fprintln(w, "|---:|---:|---|")
			for _, p := range img.Waste.Paths {
				fmt.Fprintf(w, "| %s | %d | %s |\n", size.Format(p.Size), p.References, mdCode(p.Path))
			}
		}
		fmt.Fprintln(w)
		var b strings.Builder
		writeFindings(&b, img, "")
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		// The first line is the heading: "findings: none" or "findings:".
		heading := strings.TrimSuffix(lines[0], ":")
		heading = strings.ToUpper(heading[:1]) + heading[1:]
		if len(lines) == 1 {
			fmt.Fprintln(w, heading+".")
			continue
		}
		fmt.Fprintln(w, heading+":")
		fmt.Fprintln(w)
		for _, line := range lines[1:] {
			fmt.Fprintf(w, "- %s\n", mdEscape(strings.TrimSpace(line)))
		}
	}
	if len(violations) > 0 {
		fmt.Fprintf(w, "\n**Budget: %d violation(s)**\n\n", len(violations))
		for _, v := range violations {
			fmt.Fprintf(w, "- %s\n", mdEscape(v.String()))
		}
	}
	return nil
}

var mdEscaper = strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;")

func mdEscape(s string) string { return mdEscaper.Replace(s) }

func mdCode(s string) string {
	if s == "" {
		return "none"
	}
	return "`" + strings.NewReplacer("`", "'", "|", `\|`).Replace(s) + "`"
}

// layerCompressed is a layer's compressed size, marked when its blob is a
// lower layer's.
func layerCompressed(l analysis.Layer) string {
	if l.SameBlobAs > 0 {
		return fmt.Sprintf("%s (= %d)", size.Format(l.CompressedSize), l.SameBlobAs)
	}
	return size.Format(l.CompressedSize)
}

// sameBlobs says which layers are a lower layer's blob, counted once in
// the compressed size; "" when none is.
func sameBlobs(img *analysis.Image) string {
	var same []string
	for i, l := range img.Layers {
		if l.SameBlobAs > 0 {
			same = append(same, fmt.Sprintf("%d is %d", i+1, l.SameBlobAs))
		}
	}
	if len(same) == 0 {
		return ""
	}
	return fmt.Sprintf("Same blob (layer %s): stored and downloaded once, so the compressed size counts it once; the size counts it at each place, as Docker does.", strings.Join(same, ", "))
}

// hiddenLine says how many bytes the layers hold that the final
// filesystem does not show, by cause.
func hiddenLine(img *analysis.Image) string {
	h := img.Hidden
	if h.Bytes == 0 {
		return "0 B: every byte of the layers is in the final filesystem"
	}
	var parts []string
	for _, c := range analysis.Causes {
		if b := h.ByCause[c]; b > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", c, size.Format(b)))
		}
	}
	return fmt.Sprintf("%s of the layers, not in the final filesystem (%d paths): %s", size.Exact(h.Bytes), h.Count, strings.Join(parts, ", "))
}

// madeBy names what made a layer: its Dockerfile line, or the
// instruction its history names, or the history as written.
func madeBy(l analysis.Layer) string {
	switch {
	case l.Line > 0:
		return fmt.Sprintf("%s:%d %s", l.Dockerfile, l.Line, l.Instruction)
	case l.Instruction != "":
		return l.Instruction
	}
	return l.CreatedBy
}

// layerRef names layer n (from 1) and its Dockerfile line, if known.
func layerRef(img *analysis.Image, n int) string {
	if n >= 1 && n <= len(img.Layers) {
		if l := img.Layers[n-1]; l.Line > 0 {
			return fmt.Sprintf("%d, %s:%d", n, l.Dockerfile, l.Line)
		}
	}
	return fmt.Sprint(n)
}

// baseLine says which layers are a base image's.
func baseLine(img *analysis.Image) string {
	if img.BaseLayers == 0 {
		return "no layer " + img.BaseFrom
	}
	own := len(img.Layers) - img.BaseLayers
	return fmt.Sprintf("layers 1-%d (%s), %s; its own %d layers %s", img.BaseLayers, size.Format(analysis.LayerBytes(img, 1, img.BaseLayers)),
		img.BaseFrom, own, size.Format(analysis.LayerBytes(img, img.BaseLayers+1, len(img.Layers))))
}

// packagesLine sums up the packages of img.
func packagesLine(img *analysis.Image) string {
	pk := img.Packages
	s := fmt.Sprintf("%d own %s of %s (%.1f%%), %s unowned", pk.Count, size.Format(pk.Attributed), size.Format(pk.Bytes),
		100*float64(pk.Attributed)/float64(max(pk.Bytes, 1)), size.Format(pk.UnownedBytes))
	if pk.Incomplete {
		s += " (incomplete: the package databases and manifests exceed what is read, 512 MiB)"
	}
	return s
}

// packageText describes one package, without its bytes.
func packageText(img *analysis.Image, p analysis.Package) string {
	s := p.Kind + " " + p.Name
	if p.Version != "" {
		s += " " + p.Version
	}
	files := "files"
	if p.Files == 1 {
		files = "file"
	}
	return fmt.Sprintf("%s (%d %s, layer %s)", s, p.Files, files, layerRef(img, p.Layer))
}

// unownedText lists the directories of unowned bytes.
func unownedText(dirs []analysis.Unowned) string {
	var parts []string
	for _, u := range dirs {
		parts = append(parts, size.Format(u.Bytes)+" "+u.Dir)
	}
	return strings.Join(parts, ", ")
}

// adviceWhere names the layers and paths an advice is about.
func adviceWhere(img *analysis.Image, a analysis.Advice) string {
	where := "layer " + layerRef(img, a.Layer)
	if a.HiddenBy > 0 {
		where += ", hidden by layer " + layerRef(img, a.HiddenBy)
	}
	paths := strings.Join(a.Paths, ", ")
	if a.HiddenBy > 0 && a.Count > len(a.Paths) {
		paths += fmt.Sprintf(" and %d more", a.Count-len(a.Paths))
	}
	return where + " (" + paths + ")"
}
