package report

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/diff"
	"github.com/rastringer/docker_multistage/internal/size"
)

// DiffFormats lists the output formats of imgcompare diff.
var DiffFormats = []string{"table", "markdown", "json"}

// DiffSchemaVersion names the JSON schema of a diff.
const DiffSchemaVersion = "imgcompare-diff/v1"

// WriteDiff renders a diff in format; files is how many changed paths the
// table and markdown list (JSON lists them all).
func WriteDiff(w io.Writer, format string, r *diff.Result, files int) error {
	switch format {
	case "table":
		return diffTable(w, r, files)
	case "markdown":
		return diffMarkdown(w, r, files)
	case "json":
		return diffJSON(w, r)
	}
	return fmt.Errorf("unknown format %q: want one of %s", format, strings.Join(DiffFormats, ", "))
}

func signed(n int64) string {
	if n > 0 {
		return "+" + size.Format(n)
	}
	if n < 0 {
		return "-" + size.Format(-n)
	}
	return "0 B"
}

func typeName(t byte) string {
	switch t {
	case tar.TypeReg:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "fifo"
	}
	return string(t)
}

// describe says what changed on a path, briefly.
func describe(f diff.File) string {
	switch f.Kind {
	case diff.Added:
		return typeName(f.After.Type)
	case diff.Removed:
		return typeName(f.Before.Type)
	}
	var parts []string
	for _, w := range f.What {
		switch w {
		case "type":
			parts = append(parts, typeName(f.Before.Type)+" → "+typeName(f.After.Type))
		case "mode":
			parts = append(parts, fmt.Sprintf("mode %04o → %04o", f.Before.Mode, f.After.Mode))
		case "owner":
			parts = append(parts, fmt.Sprintf("owner %d:%d → %d:%d", f.Before.UID, f.Before.GID, f.After.UID, f.After.GID))
		case "link":
			parts = append(parts, fmt.Sprintf("link %s → %s", f.Before.Link, f.After.Link))
		default:
			parts = append(parts, w)
		}
	}
	return strings.Join(parts, ", ")
}

// packagesDeltaLine sums up the package changes.
func packagesDeltaLine(r *diff.Result) string {
	return fmt.Sprintf("packages %s, unowned %s, in all %s", signed(r.PackagesDelta), signed(r.UnownedDelta), signed(r.PackagesDelta+r.UnownedDelta))
}

// versions says a package's versions before and after.
func versions(p diff.PackageChange) string {
	switch {
	case p.Before == nil:
		return p.After.Version
	case p.After == nil:
		return p.Before.Version
	case p.Before.Version == p.After.Version:
		return p.After.Version
	}
	return p.Before.Version + " → " + p.After.Version
}

// packageRows are the package changes and the unowned ones, n of each at
// most, a row each: change, size, package or directory, version. A row
// with only its first cell says how many more there are.
func packageRows(r *diff.Result, n int) [][4]string {
	var rows [][4]string
	for i, p := range r.Packages {
		if i == n {
			break
		}
		rows = append(rows, [4]string{p.Change, signed(p.Delta), p.Kind + " " + p.Name, versions(p)})
	}
	for i, u := range r.Unowned {
		if i == n {
			break
		}
		rows = append(rows, [4]string{"unowned", signed(u.Delta), u.Dir, ""})
	}
	if more := max(len(r.Packages)-n, 0) + max(len(r.Unowned)-n, 0); more > 0 {
		rows = append(rows, [4]string{fmt.Sprintf("… and %d more (--largest N lists more; -o json lists all)", more)})
	}
	return rows
}

// downloadLine says what a host downloads to go from one image to the
// other.
func downloadLine(r *diff.Result) string {
	return fmt.Sprintf("download: %s (%d bytes) to pull %s where %s is, %s (%d bytes) the other way",
		size.Format(r.Download), r.Download, r.B.Name, r.A.Name, size.Format(r.Reverse), r.Reverse)
}

func diffSummary(r *diff.Result) string {
	if r.ManifestOnly {
		if r.Identical() {
			return "identical: the same layers and configuration (manifests only)"
		}
		return fmt.Sprintf("manifests only, files not read; %d configuration settings differ", len(r.Config))
	}
	if r.Identical() {
		return "identical: the same files and configuration"
	}
	var added, removed, changed int
	for _, f := range r.Files {
		switch f.Kind {
		case diff.Added:
			added++
		case diff.Removed:
			removed++
		default:
			changed++
		}
	}
	return fmt.Sprintf("%d added, %d removed, %d changed (%s of files); %d configuration settings differ",
		added, removed, changed, signed(r.Delta), len(r.Config))
}

func diffTable(w io.Writer, r *diff.Result, files int) error {
	fmt.Fprintf(w, "%s → %s: %s\n", r.A.Name, r.B.Name, diffSummary(r))
	fmt.Fprintf(w, "size %s → %s (%s), compressed %s → %s\n",
		size.Format(r.A.Size), size.Format(r.B.Size), signed(r.B.Size-r.A.Size),
		size.Format(r.A.CompressedSize), size.Format(r.B.CompressedSize))
	fmt.Fprintf(w, "%s\n", downloadLine(r))
	if len(r.Config) > 0 {
		fmt.Fprintln(w, "\nconfiguration:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range r.Config {
			fmt.Fprintf(tw, "  %s\t%s\t→ %s\n", s.Field, orNone(s.Before), orNone(s.After))
		}
		tw.Flush()
	}
	if len(r.Dirs) > 0 {
		fmt.Fprintln(w, "\nby top-level directory:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  DIRECTORY\tADDED\tREMOVED\tCHANGED\tSIZE\t")
		for _, d := range r.Dirs {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t\n", d.Dir, d.Added, d.Removed, d.Changed, signed(d.Delta))
		}
		tw.Flush()
	}
	if len(r.Packages) > 0 || len(r.Unowned) > 0 {
		fmt.Fprintf(w, "\npackages, largest change first (%s):\n", packagesDeltaLine(r))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, row := range packageRows(r, files) {
			switch {
			case row[1] == "":
				fmt.Fprintf(tw, "  %s\n", row[0])
			case row[3] == "":
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", row[0], row[1], row[2])
			default:
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", row[0], row[1], row[2], row[3])
			}
		}
		tw.Flush()
	}
	if len(r.Files) > 0 {
		fmt.Fprintln(w, "\nfiles, largest change first:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, f := range r.Files {
			if i == files {
				fmt.Fprintf(tw, "  … and %d more (--largest N lists more; -o json lists all)\n", len(r.Files)-files)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Kind, signed(f.Delta), f.Path, describe(f))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nlayers:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, p := range r.Layers {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", i+1, layerCell(p.Before), layerCell(p.After))
	}
	return tw.Flush()
}

func layerCell(l *analysis.Layer) string {
	if l == nil {
		return "-"
	}
	return size.Format(l.Size) + " " + truncate(l.CreatedBy, 50)
}

func diffMarkdown(w io.Writer, r *diff.Result, files int) error {
	fmt.Fprintf(w, "**%s → %s**: %s.\n\n", mdCode(r.A.Name), mdCode(r.B.Name), mdEscape(diffSummary(r)))
	fmt.Fprintf(w, "Size %s → %s (%s), compressed %s → %s.\n",
		size.Format(r.A.Size), size.Format(r.B.Size), signed(r.B.Size-r.A.Size),
		size.Format(r.A.CompressedSize), size.Format(r.B.CompressedSize))
	fmt.Fprintf(w, "%s.\n", mdEscape(downloadLine(r)))
	if len(r.Config) > 0 {
		fmt.Fprintln(w, "\n| Setting | Before | After |\n|---|---|---|")
		for _, s := range r.Config {
			fmt.Fprintf(w, "| %s | %s | %s |\n", mdEscape(s.Field), mdCode(s.Before), mdCode(s.After))
		}
	}
	if len(r.Dirs) > 0 {
		fmt.Fprintln(w, "\n| Directory | Added | Removed | Changed | Size |\n|---|---:|---:|---:|---:|")
		for _, d := range r.Dirs {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %s |\n", mdCode(d.Dir), d.Added, d.Removed, d.Changed, signed(d.Delta))
		}
	}
	if len(r.Packages) > 0 || len(r.Unowned) > 0 {
		fmt.Fprintf(w, "\nPackages: %s.\n\n| Change | Size | Package or directory | Version |\n|---|---:|---|---|\n", packagesDeltaLine(r))
		for _, row := range packageRows(r, files) {
			if row[1] == "" {
				fmt.Fprintf(w, "\n%s\n", row[0])
				break
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", row[0], row[1], mdEscape(row[2]), mdEscape(row[3]))
		}
	}
	if len(r.Files) > 0 {
		fmt.Fprintln(w, "\n| Change | Size | Path | What |\n|---|---:|---|---|")
		for i, f := range r.Files {
			if i == files {
				fmt.Fprintf(w, "\n… and %d more.\n", len(r.Files)-files)
				break
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.Kind, signed(f.Delta), mdCode(f.Path), mdEscape(describe(f)))
		}
	}
	fmt.Fprintln(w, "\n| Layer | Before | After |\n|---:|---|---|")
	for i, p := range r.Layers {
		fmt.Fprintf(w, "| %d | %s | %s |\n", i+1, mdEscape(layerCell(p.Before)), mdEscape(layerCell(p.After)))
	}
	return nil
}

// The JSON document of a diff: a contract with users' scripts, apart from
// the diff package's types.
type jsonDiff struct {
	Schema    string            `json:"schema"`
	Before    jsonDiffImage     `json:"before"`
	After     jsonDiffImage     `json:"after"`
	Identical bool              `json:"identical"`
	SizeDelta int64             `json:"size_delta"`
	Config    []jsonSetting     `json:"config"`
	Dirs      []jsonDiffDir     `json:"directories"`
	Files     []jsonDiffFile    `json:"files"`
	Layers    []jsonDiffLayerAB `json:"layers"`
	// Download: what a host holding before downloads to pull after,
	// and the reverse, in compressed bytes.
	Download jsonDownload `json:"download"`
	// ManifestOnly: files not read, only manifests and configs.
	ManifestOnly bool `json:"manifest_only,omitempty"`
	// Packages: added, removed and changed, largest change first; the
	// unowned change by directory; packages_delta + unowned_delta is the
	// change of the final filesystem's bytes.
	Packages      []jsonPackageChange `json:"packages"`
	Unowned       []jsonUnownedChange `json:"unowned"`
	PackagesDelta int64               `json:"packages_delta"`
	UnownedDelta  int64               `json:"unowned_delta"`
}

type jsonPackageChange struct {
	Kind   string           `json:"kind"`
	Name   string           `json:"name"`
	Change string           `json:"change"`
	Before *jsonPackageSide `json:"before"`
	After  *jsonPackageSide `json:"after"`
	Delta  int64            `json:"size_delta"`
}

type jsonPackageSide struct {
	Version string `json:"version"`
	Bytes   int64  `json:"bytes"`
}

type jsonUnownedChange struct {
	Dir   string `json:"dir"`
	Delta int64  `json:"size_delta"`
}

type jsonDownload struct {
	BeforeToAfter int64 `json:"before_to_after"`
	AfterToBefore int64 `json:"after_to_before"`
}

type jsonDiffImage struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Size       int64  `json:"size"`
	Compressed int64  `json:"compressed"`
}

type jsonSetting struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

type jsonDiffDir struct {
	Dir     string `json:"dir"`
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Changed int    `json:"changed"`
	Delta   int64  `json:"size_delta"`
}

type jsonDiffFile struct {
	Path   string        `json:"path"`
	Change string        `json:"change"`
	What   []string      `json:"what"`
	Delta  int64         `json:"size_delta"`
	Before *jsonFileInfo `json:"before"`
	After  *jsonFileInfo `json:"after"`
}

type jsonFileInfo struct {
	Type   string `json:"type"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Link   string `json:"link,omitempty"`
	Digest string `json:"digest,omitempty"`
}

type jsonDiffLayerAB struct {
	Before *jsonLayer `json:"before"`
	After  *jsonLayer `json:"after"`
}

func fileInfo(f *analysis.FileInfo) *jsonFileInfo {
	if f == nil {
		return nil
	}
	return &jsonFileInfo{typeName(f.Type), f.Size, fmt.Sprintf("%04o", f.Mode), f.UID, f.GID, f.Link, f.Digest}
}

func layerJSON(l *analysis.Layer) *jsonLayer {
	if l == nil {
		return nil
	}
	return new(jsonLayerOf(*l))
}

func diffJSON(w io.Writer, r *diff.Result) error {
	doc := jsonDiff{
		Schema:        DiffSchemaVersion,
		Before:        jsonDiffImage{r.A.Name, r.A.ID, r.A.Size, r.A.CompressedSize},
		After:         jsonDiffImage{r.B.Name, r.B.ID, r.B.Size, r.B.CompressedSize},
		Identical:     r.Identical(),
		SizeDelta:     r.Delta,
		Config:        []jsonSetting{},
		Dirs:          []jsonDiffDir{},
		Files:         []jsonDiffFile{},
		Layers:        []jsonDiffLayerAB{},
		Download:      jsonDownload{r.Download, r.Reverse},
		Packages:      []jsonPackageChange{},
		Unowned:       []jsonUnownedChange{},
		PackagesDelta: r.PackagesDelta,
		UnownedDelta:  r.UnownedDelta,
		ManifestOnly:  r.ManifestOnly,
	}
	for _, s := range r.Config {
		doc.Config = append(doc.Config, jsonSetting(s))
	}
	for _, d := range r.Dirs {
		doc.Dirs = append(doc.Dirs, jsonDiffDir(d))
	}
	for _, f := range r.Files {
		doc.Files = append(doc.Files, jsonDiffFile{f.Path, f.Kind, nonNil(f.What), f.Delta, fileInfo(f.Before), fileInfo(f.After)})
	}
	for _, p := range r.Layers {
		doc.Layers = append(doc.Layers, jsonDiffLayerAB{layerJSON(p.Before), layerJSON(p.After)})
	}
	side := func(s *diff.PackageSide) *jsonPackageSide {
		if s == nil {
			return nil
		}
		return &jsonPackageSide{s.Version, s.Bytes}
	}
	for _, p := range r.Packages {
		doc.Packages = append(doc.Packages, jsonPackageChange{p.Kind, p.Name, p.Change, side(p.Before), side(p.After), p.Delta})
	}
	for _, u := range r.Unowned {
		doc.Unowned = append(doc.Unowned, jsonUnownedChange(u))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
