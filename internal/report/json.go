package report

import (
	"encoding/json"
	"io"
	"math"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
)

// SchemaVersion names the JSON schema. It changes only when a field is
// removed or changes meaning; new fields may be added within a version.
//
// v2: source names a transport (docker-daemon, docker-archive, oci-archive,
// oci); size says where the compressed size comes from
// (compressed_source: stored, computed or estimated) and its formats; a
// compressed reduction says whether it compares sizes of the same source;
// waste holds dive's figures; with manifest_only, uncompressed, files and
// waste are null. config has env and labels.
const SchemaVersion = "imgcompare/v2"

// The JSON document. These types are the contract with users' scripts:
// they are kept apart from the analysis types, which may change freely.
type jsonDocument struct {
	Schema     string          `json:"schema"`
	Images     []jsonImage     `json:"images"`
	Violations []jsonViolation `json:"violations"`
}

type jsonImage struct {
	Name         string         `json:"name"`
	Source       string         `json:"source"`
	ID           string         `json:"id"`
	OS           string         `json:"os"`
	Architecture string         `json:"architecture"`
	Variant      string         `json:"variant,omitempty"`
	Size         jsonSize       `json:"size"`
	Reduction    *jsonReduction `json:"reduction,omitempty"`
	ManifestOnly bool           `json:"manifest_only,omitempty"`
	Layers       []jsonLayer    `json:"layers"`
	Files        *int           `json:"files"`
	Largest      []jsonFile     `json:"largest_files"`
	Config       jsonConfig     `json:"config"`
	Findings     []jsonFinding  `json:"findings"`
	Waste        *jsonWaste     `json:"waste"`
	// Hidden: the bytes the layers hold and the final filesystem does not
	// show, by cause, as Docker assembles the layers (not dive's waste).
	Hidden *jsonHidden `json:"hidden"`
	// Reclaimable: what the final filesystem holds that the image need
	// not ship (caches, temporary files, a toolchain), largest first.
	Reclaimable []jsonReclaimable `json:"reclaimable"`
	// Advice: what to change, and the bytes each change gives back.
	Advice []jsonAdvice `json:"advice"`
	// Runs: for an image that ships a toolchain, what a final stage
	// needs to run its entrypoint.
	Runs *jsonRuns `json:"runs,omitempty"`
	// Packages: every file of the final filesystem attributed to the
	// package that owns it, or unowned; null with manifest_only.
	Packages *jsonPackages `json:"packages"`
	// Base: the bottom layers that are a base image's, and how that is
	// known; absent when it is not.
	Base *jsonBase `json:"base,omitempty"`
}

type jsonBase struct {
	Layers int    `json:"layers"`
	From   string `json:"from"`
	Bytes  int64  `json:"bytes"`
}

type jsonPackages struct {
	Incomplete bool          `json:"incomplete,omitempty"`
	Bytes      int64         `json:"bytes"`
	Count      int           `json:"count"`
	Attributed int64         `json:"attributed_bytes"`
	Unowned    int64         `json:"unowned_bytes"`
	List       []jsonPackage `json:"list"`
	Dirs       []jsonUnowned `json:"unowned"`
}

type jsonPackage struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Version string   `json:"version"`
	Bytes   int64    `json:"bytes"`
	Files   int      `json:"files"`
	Layer   int      `json:"layer"`
	Modules []string `json:"modules,omitempty"`
}

type jsonUnowned struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
	Files int    `json:"files"`
}

type jsonRuns struct {
	Path        string   `json:"path"`
	Bytes       int64    `json:"bytes"`
	ELF         bool     `json:"elf"`
	Static      bool     `json:"static"`
	Go          bool     `json:"go"`
	Stripped    int64    `json:"stripped_bytes"`
	Interpreter string   `json:"interpreter,omitempty"`
	Libraries   []string `json:"libraries,omitempty"`
}

type jsonAdvice struct {
	Bytes    int64    `json:"bytes"`
	What     string   `json:"what"`
	Layer    int      `json:"layer"`
	HiddenBy int      `json:"hidden_by_layer,omitempty"`
	Paths    []string `json:"paths"`
	Count    int      `json:"count"`
	Fix      string   `json:"fix"`
}

type jsonReclaimable struct {
	Kind  string `json:"kind"`
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Files int    `json:"files"`
	Layer int    `json:"layer"`
}

type jsonHidden struct {
	Visible int64            `json:"visible"`
	Bytes   int64            `json:"bytes"`
	ByCause map[string]int64 `json:"by_cause"`
	Count   int              `json:"paths_count"`
	Paths   []jsonHiddenPath `json:"paths"`
}

type jsonHiddenPath struct {
	Path     string `json:"path"`
	Bytes    int64  `json:"bytes"`
	Cause    string `json:"cause"`
	AddedBy  int    `json:"added_by_layer"`
	HiddenBy int    `json:"hidden_by_layer"`
}

type jsonWaste struct {
	Efficiency        float64          `json:"efficiency"`
	WastedBytes       int64            `json:"wasted_bytes"`
	UserSize          int64            `json:"user_size"`
	UserWastedPercent *float64         `json:"user_wasted_percent"` // null when infinite: waste, and no bytes above the first layer
	Paths             []jsonWastedPath `json:"wasted_paths"`
}

type jsonWastedPath struct {
	Path       string `json:"path"`
	References int    `json:"references"`
	Size       int64  `json:"size"`
}

type jsonSize struct {
	Uncompressed     *int64   `json:"uncompressed"`
	Compressed       int64    `json:"compressed"`
	CompressedSource string   `json:"compressed_source"`
	Formats          []string `json:"compression_formats"`
}

type jsonReduction struct {
	Baseline     string            `json:"baseline"`
	Uncompressed jsonPercent       `json:"uncompressed"`
	Compressed   jsonCompressedCut `json:"compressed"`
	// Download: the compressed bytes a host holding the baseline
	// downloads to pull this image.
	Download int64 `json:"download"`
}

type jsonPercent struct {
	Percent float64 `json:"percent"`
	Factor  float64 `json:"factor"`
}

type jsonCompressedCut struct {
	Percent float64 `json:"percent"`
	Factor  float64 `json:"factor"`
	// SameSource is false when the two compressed sizes were obtained
	// differently (stored against estimated, say): not like for like.
	SameSource bool `json:"same_source"`
}

type jsonLayer struct {
	DiffID       string `json:"diff_id"`
	Uncompressed int64  `json:"uncompressed"`
	Compressed   int64  `json:"compressed"`
	Files        int    `json:"files"`
	CreatedBy    string `json:"created_by"`
	// SameBlobAs, from 1, is the lower layer whose blob this one is: the
	// image's compressed size counts it there.
	SameBlobAs int `json:"same_blob_as,omitempty"`
	// Hidden is how many of its bytes later layers hide.
	Hidden int64 `json:"hidden"`
	// Instruction made the layer, as its history or the Dockerfile names
	// it; Dockerfile and DockerfileLine with --dockerfile.
	Instruction    string `json:"instruction,omitempty"`
	Dockerfile     string `json:"dockerfile,omitempty"`
	DockerfileLine int    `json:"dockerfile_line,omitempty"`
}

func jsonLayerOf(l analysis.Layer) jsonLayer {
	return jsonLayer{l.DiffID, l.Size, l.CompressedSize, l.Files, l.CreatedBy, l.SameBlobAs, l.Hidden, l.Instruction, l.Dockerfile, l.Line}
}

type jsonFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

type jsonConfig struct {
	User        string            `json:"user"`
	Root        bool              `json:"root"`
	Entrypoint  []string          `json:"entrypoint"`
	Cmd         []string          `json:"cmd"`
	Ports       []string          `json:"exposed_ports"`
	Healthcheck []string          `json:"healthcheck"`
	Env         []string          `json:"env"`
	Labels      map[string]string `json:"labels"`
}

type jsonFinding struct {
	Kind   string `json:"kind"`
	Path   string `json:"path,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type jsonViolation struct {
	Image   string `json:"image"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// JSON writes the document of schema SchemaVersion.
func JSON(w io.Writer, images []*analysis.Image, violations []budget.Violation) error {
	doc := jsonDocument{Schema: SchemaVersion, Images: []jsonImage{}, Violations: []jsonViolation{}}
	for i, img := range images {
		j := jsonImage{
			Name: img.Name, Source: string(img.Source), ID: img.ID,
			OS: img.OS, Architecture: img.Architecture, Variant: img.Variant,
			Size:         jsonSize{&img.Size, img.CompressedSize, string(img.Compression), nonNil(img.Formats)},
			ManifestOnly: img.ManifestOnly,
			Layers:       []jsonLayer{},
			Files:        &img.Files,
			Largest:      []jsonFile{},
			Findings:     []jsonFinding{},
			Config: jsonConfig{
				User: img.User, Root: img.Root,
				Entrypoint: nonNil(img.Entrypoint), Cmd: nonNil(img.Cmd),
				Ports: nonNil(img.Ports), Healthcheck: nonNil(img.Healthcheck),
				Env: nonNil(img.Env), Labels: img.Labels,
			},
		}
		if i > 0 {
			u := analysis.Reduce(images[0].Size, img.Size)
			c := analysis.Reduce(images[0].CompressedSize, img.CompressedSize)
			j.Reduction = &jsonReduction{images[0].Name, jsonPercent(u), jsonCompressedCut{c.Percent, c.Factor, sameSource(images[0], img)}, analysis.Download(images[0], img)}
		}
		for _, l := range img.Layers {
			j.Layers = append(j.Layers, jsonLayerOf(l))
		}
		for _, f := range img.Largest {
			j.Largest = append(j.Largest, jsonFile(f))
		}
		for _, f := range img.Findings {
			j.Findings = append(j.Findings, jsonFinding{string(f.Kind), f.Path, f.Detail})
		}
		if j.Config.Labels == nil {
			j.Config.Labels = map[string]string{}
		}
		if img.ManifestOnly {
			// Nothing but the manifest and config was read.
			j.Size.Uncompressed, j.Files = nil, nil
		} else {
			j.Waste = &jsonWaste{img.Waste.Efficiency, img.Waste.WastedBytes, img.Waste.UserSize, nil, []jsonWastedPath{}}
			if p := img.Waste.UserWastedPercent; !math.IsInf(p, 0) {
				j.Waste.UserWastedPercent = &p
			}
			for _, p := range img.Waste.Paths {
				j.Waste.Paths = append(j.Waste.Paths, jsonWastedPath(p))
			}
			h := img.Hidden
			j.Hidden = &jsonHidden{h.Visible, h.Bytes, map[string]int64{}, h.Count, []jsonHiddenPath{}}
			for _, c := range analysis.Causes {
				j.Hidden.ByCause[string(c)] = h.ByCause[c]
			}
			for _, p := range h.Paths {
				j.Hidden.Paths = append(j.Hidden.Paths, jsonHiddenPath{p.Path, p.Bytes, string(p.Cause), p.AddedBy, p.HiddenBy})
			}
			j.Advice = []jsonAdvice{}
			for _, a := range img.Advice {
				j.Advice = append(j.Advice, jsonAdvice(a))
			}
			j.Reclaimable = []jsonReclaimable{}
			for _, r := range img.Reclaimable {
				j.Reclaimable = append(j.Reclaimable, jsonReclaimable(r))
			}
			if img.BaseFrom != "" {
				j.Base = &jsonBase{img.BaseLayers, img.BaseFrom, analysis.LayerBytes(img, 1, img.BaseLayers)}
			}
			pk := img.Packages
			j.Packages = &jsonPackages{pk.Incomplete, pk.Bytes, pk.Count, pk.Attributed, pk.UnownedBytes, []jsonPackage{}, []jsonUnowned{}}
			for _, p := range pk.List {
				j.Packages.List = append(j.Packages.List, jsonPackage(p))
			}
			for _, u := range pk.Unowned {
				j.Packages.Dirs = append(j.Packages.Dirs, jsonUnowned(u))
			}
			if img.Runs != nil {
				r := jsonRuns(*img.Runs)
				j.Runs = &r
			}
		}
		doc.Images = append(doc.Images, j)
	}
	for _, v := range violations {
		doc.Violations = append(doc.Violations, jsonViolation(v))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
