package analysis

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rastringer/docker_multistage/internal/size"
)

// Advice is one change to an image's build with the bytes it gives back:
// hidden bytes of one cause between two layers, or one reclaimable item.
type Advice struct {
	Bytes int64
	// What names the bytes: a cause of hidden bytes, or a kind of
	// reclaimable ones.
	What string
	// Layer, from 1, made the bytes; HiddenBy hid them (0 for visible
	// bytes).
	Layer, HiddenBy int
	// Paths are examples, the largest first; Count is how many paths.
	Paths []string
	Count int
	Fix   string
}

// maxAdvicePaths is how many example paths an item keeps.
const maxAdvicePaths = 3

// Advise lists what to change in img's build, largest first: a line per
// cause of hidden bytes and pair of layers, every hidden path counted
// (not only the largest Hidden.Paths keeps), and a line per reclaimable
// item. The fixes follow the layers' instructions (Layer.Instruction).
func Advise(img *Image) []Advice {
	type key struct {
		cause         Cause
		layer, hidden int
	}
	groups := map[key]*Advice{}
	for _, p := range img.Hidden.all {
		k := key{p.Cause, p.AddedBy, p.HiddenBy}
		a := groups[k]
		if a == nil {
			a = &Advice{What: string(p.Cause), Layer: p.AddedBy, HiddenBy: p.HiddenBy}
			groups[k] = a
		}
		a.Bytes += p.Bytes
		a.Count++
		if len(a.Paths) < maxAdvicePaths {
			a.Paths = append(a.Paths, p.Path)
		}
	}
	var out []Advice
	for _, a := range groups {
		a.Fix = hiddenFix(Cause(a.What), instruction(img, a.Layer), instruction(img, a.HiddenBy))
		out = append(out, *a)
	}
	for _, r := range img.Reclaimable {
		out = append(out, Advice{Bytes: r.Bytes, What: r.Kind, Layer: r.Layer, Paths: []string{r.Path}, Count: r.Files, Fix: reclaimFix(r.Kind, img.Runs)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		if out[i].What != out[j].What {
			return out[i].What < out[j].What
		}
		return out[i].Layer < out[j].Layer
	})
	return out
}

// instruction is the keyword of layer n's instruction (from 1), "" when
// unknown.
func instruction(img *Image, n int) string {
	if n < 1 || n > len(img.Layers) {
		return ""
	}
	keyword, _, _ := strings.Cut(img.Layers[n-1].Instruction, " ")
	return keyword
}

// hiddenFix says how to keep bytes of a cause out of the layers, given
// the instructions that wrote and hid them.
func hiddenFix(cause Cause, wrote, hid string) string {
	copied := wrote == "COPY" || wrote == "ADD"
	switch cause {
	case RewrittenUnchanged:
		if copied {
			return fmt.Sprintf("set owner and mode as the files are copied (%s --chown=UID:GID --chmod=MODE) rather than in a later RUN chown or chmod", wrote)
		}
		return "set owner and mode in the same RUN that writes the files, not in a later one"
	case RemovedLater:
		if copied {
			return fmt.Sprintf("do not %s what a later step removes: leave it out of the context (.dockerignore), or use it through RUN --mount=type=bind", wrote)
		}
		return "remove it in the same RUN that writes it, or keep it out of the image with RUN --mount=type=cache or type=tmpfs"
	case Replaced:
		return "write the final content once: in the same step, or in a build stage whose result is copied"
	}
	return ""
}

// reclaimFix says how to leave a kind of reclaimable bytes out; for a
// toolchain, with what a final stage would hold to run the entrypoint.
func reclaimFix(kind string, runs *Runs) string {
	switch kind {
	case AptLists:
		return "apt-get update and install with rm -rf /var/lib/apt/lists/* in the same RUN, or RUN --mount=type=cache,target=/var/lib/apt/lists"
	case AptArchives:
		return "apt-get install --no-install-recommends and apt-get clean in the same RUN, or RUN --mount=type=cache,target=/var/cache/apt"
	case ApkCache:
		return "apk add --no-cache"
	case PipCache:
		return "pip install --no-cache-dir, or RUN --mount=type=cache,target=/root/.cache/pip"
	case NpmCache:
		return "npm ci --omit=dev with RUN --mount=type=cache,target=/root/.npm, or npm cache clean --force in the same RUN"
	case YarnCache:
		return "yarn install with RUN --mount=type=cache on the yarn cache, or yarn cache clean in the same RUN"
	case GoBuildCache, GoModuleCache:
		return "RUN --mount=type=cache,target=/root/.cache/go-build (and /go/pkg/mod) for the build, or build in a stage of its own and COPY --from only the binary"
	case UserCache:
		return "RUN --mount=type=cache on the cache, or remove it in the same RUN"
	case TempFiles:
		return "remove them in the same RUN, or RUN --mount=type=tmpfs,target=/tmp"
	case GoToolchain, CToolchain, Headers, StaticLibs:
		fix := "build in a stage of its own (FROM … AS build) and COPY --from=build only what runs into a small final stage"
		if runs != nil && (kind == GoToolchain || kind == CToolchain) {
			fix += ": " + runs.finalStage()
		}
		return fix
	}
	return ""
}

// finalStage says what a final stage holds to run the program.
func (r *Runs) finalStage() string {
	held := fmt.Sprintf("%s (%d bytes)", size.Format(r.Bytes), r.Bytes)
	var s string
	switch {
	case r.Static:
		s = fmt.Sprintf("%s, a static binary, FROM scratch: %s", r.Path, held)
	case r.ELF:
		s = fmt.Sprintf("%s, %s, with its loader %s and libraries %s", r.Path, held, r.Interpreter, strings.Join(r.Libraries, ", "))
	default:
		return fmt.Sprintf("%s, %s, with what it needs to run", r.Path, held)
	}
	if r.Stripped < r.Bytes {
		strip := "strip"
		if r.Go {
			strip = "go build -ldflags='-s -w'"
		}
		s += fmt.Sprintf(", or %s (%d bytes) without its symbol table and debug information (%s)", size.Format(r.Stripped), r.Stripped, strip)
	}
	return s
}
