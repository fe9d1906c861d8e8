package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// wastefulDockerfile builds an image whose later layers replace and remove
// what earlier ones wrote, the way careless Dockerfiles do: a file
// rewritten, a file's mode changed (which copies it up whole), a
// directory removed, a file removed.
const wastefulDockerfile = `ARG BASE
FROM ${BASE}
RUN mkdir -p /data /cache && head -c 300000 /dev/urandom > /data/big && echo small > /data/small && head -c 70000 /dev/urandom > /cache/x && head -c 30000 /dev/urandom > /cache/y
RUN head -c 200000 /dev/urandom > /data/big
RUN chmod 600 /data/small && rm -rf /cache
RUN rm /data/big
`

// dive is the dive binary, built from its module by scripts/tools.sh.
func dive(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "tools.sh"), "dive").Output()
	if err != nil {
		var stderr string
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = string(exit.Stderr)
		}
		t.Fatalf("scripts/tools.sh dive: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// diveFigures runs dive --ci and dive --json on a docker save tarball.
type diveFigures struct {
	efficiency, userWastedPercent string // as dive prints them, %2.4f of a percentage
	wastedBytes                   int64
	files                         []string // path, references, size of each wasted path
	passed                        bool     // dive --ci exited 0
}

var (
	diveEfficiency = regexp.MustCompile(`efficiency: (-?[0-9.]+) %`)
	diveWasted     = regexp.MustCompile(`wastedBytes: ([0-9]+) bytes`)
	diveUser       = regexp.MustCompile(`userWastedPercent: ([0-9.NaInf+-]+) %`)
)

// runDive runs dive on tarball, --ci with rules (its defaults when none).
func runDive(t *testing.T, bin, tarball string, rules ...string) diveFigures {
	t.Helper()
	// dive --ci exits 1 when its rules fail; its figures are printed either way.
	ci, err := exec.Command(bin, append([]string{"--ci", "--source", "docker-archive", tarball}, rules...)...).CombinedOutput()
	var f diveFigures
	var exit *exec.ExitError
	switch {
	case err == nil:
		f.passed = true
	case !errors.As(err, &exit) || exit.ExitCode() != 1:
		t.Fatalf("dive --ci: %v\n%s", err, ci)
	}
	for re, dst := range map[*regexp.Regexp]*string{diveEfficiency: &f.efficiency, diveUser: &f.userWastedPercent} {
		m := re.FindSubmatch(ci)
		if m == nil {
			t.Fatalf("dive --ci printed no %s:\n%s", re, ci)
		}
		*dst = string(m[1])
	}
	m := diveWasted.FindSubmatch(ci)
	if m == nil {
		t.Fatalf("dive --ci printed no wasted bytes:\n%s", ci)
	}
	f.wastedBytes, _ = strconv.ParseInt(string(m[1]), 10, 64)

	export := filepath.Join(t.TempDir(), "dive.json")
	if out, err := exec.Command(bin, "--source", "docker-archive", "--json", export, tarball).CombinedOutput(); err != nil {
		t.Fatalf("dive --json: %v\n%s", err, out)
	}
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Image struct {
			InefficientFiles []struct {
				Count     int    `json:"count"`
				SizeBytes int64  `json:"sizeBytes"`
				File      string `json:"file"`
			} `json:"fileReference"`
		} `json:"image"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Image.InefficientFiles {
		f.files = append(f.files, fmt.Sprintf("%s %d %d", r.File, r.Count, r.SizeBytes))
	}
	return f
}

// TestWasteMatchesDive builds an image with waste and checks imgcompare's
// efficiency, wasted bytes, wasted share and wasted paths against dive's on
// the same docker save tarballs, and the project's own images too.
func TestWasteMatchesDive(t *testing.T) {
	base := dockertest.BuildImages(t)
	diveBin := dive(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(wastefulDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	const wasteful = "imgcompare-test/wasteful:latest"
	dockertest.Docker(t, "build", "--network", "none", "-q", "--build-arg", "BASE="+base["ALPINE_IMAGE"], "-t", wasteful, dir)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", wasteful) })

	for _, image := range []string{wasteful, dockertest.SingleStage, dockertest.Alpine, dockertest.MultiStage} {
		t.Run(image, func(t *testing.T) {
			tarball := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(image)+".tar")
			// docker save of a bare repository saves every tag of it,
			// and dive reads the first image of a tarball: name one.
			ref := image
			if !strings.Contains(ref, ":") {
				ref += ":latest"
			}
			dockertest.Docker(t, "save", "-o", tarball, ref)
			want := runDive(t, diveBin, tarball)

			stdout, stderr, code := imgcompare(t, "-o", "json", "--largest", "1000", tarball+":"+image)
			if code != 0 {
				t.Fatalf("imgcompare: exit %d: %s", code, stderr)
			}
			for _, d := range compareWaste(t, stdout, want) {
				t.Error(d)
			}
			if image == wasteful && want.wastedBytes == 0 {
				t.Error("the wasteful image wastes nothing: the test proves nothing")
			}
		})
	}
}

// compareWaste compares the waste in imgcompare's JSON output with dive's
// figures, and returns the differences.
func compareWaste(t *testing.T, stdout string, want diveFigures) []string {
	t.Helper()
	var doc struct {
		Images []struct {
			Waste struct {
				Efficiency        float64  `json:"efficiency"`
				WastedBytes       int64    `json:"wasted_bytes"`
				UserSize          int64    `json:"user_size"`
				UserWastedPercent *float64 `json:"user_wasted_percent"`
				Paths             []struct {
					Path       string `json:"path"`
					References int    `json:"references"`
					Size       int64  `json:"size"`
				} `json:"wasted_paths"`
			} `json:"waste"`
			Size   struct{ Uncompressed int64 }
			Hidden struct{ Visible, Bytes int64 }
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 1 {
		t.Fatalf("imgcompare -o json: %v\n%s", err, stdout)
	}
	got := doc.Images[0].Waste
	var diffs []string
	// Every image keeps the partition of its bytes, whatever dive says.
	if img := doc.Images[0]; img.Size.Uncompressed-img.Hidden.Visible != img.Hidden.Bytes {
		diffs = append(diffs, fmt.Sprintf("size %d - visible %d != hidden %d", img.Size.Uncompressed, img.Hidden.Visible, img.Hidden.Bytes))
	}
	if s := fmt.Sprintf("%2.4f", got.Efficiency*100); s != want.efficiency {
		diffs = append(diffs, fmt.Sprintf("efficiency %s%%, dive %s%%", s, want.efficiency))
	}
	if got.WastedBytes != want.wastedBytes {
		diffs = append(diffs, fmt.Sprintf("wasted %d bytes, dive %d", got.WastedBytes, want.wastedBytes))
	}
	share := "+Inf" // JSON's null
	switch {
	case got.UserWastedPercent != nil && got.UserSize == 0 && got.WastedBytes == 0:
		share = "NaN" // dive divides 0 by 0
	case got.UserWastedPercent != nil:
		share = fmt.Sprintf("%2.4f", *got.UserWastedPercent)
	}
	if share != want.userWastedPercent {
		diffs = append(diffs, fmt.Sprintf("user wasted %s%%, dive %s%%", share, want.userWastedPercent))
	}
	var files []string
	for _, p := range got.Paths {
		files = append(files, fmt.Sprintf("%s %d %d", p.Path, p.References, p.Size))
	}
	if strings.Join(sorted(files), "\n") != strings.Join(sorted(want.files), "\n") {
		diffs = append(diffs, fmt.Sprintf("wasted paths:\n%s\ndive:\n%s", strings.Join(sorted(files), "\n"), strings.Join(sorted(want.files), "\n")))
	}
	return diffs
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// TestWasteDifferential checks imgcompare's efficiency, wasted bytes,
// wasted share, wasted paths and dive's three rules against dive's own on
// layer stacks where dive's figures differ from a plain reading of the
// layers (imagetest.WasteEdges), then on random ones made of the same
// operations: files replaced and removed, whiteouts of paths that do not
// exist, also inside a symlinked directory, opaque directories,
// directories only implied by their children's paths, a path changing
// type and back, a name listed twice in a layer, top layers that only
// delete, with random limits for the rules.
func TestWasteDifferential(t *testing.T) {
	diveBin := dive(t)
	bin := buildImgcompare(t)
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 18))
	type testCase struct {
		name                             string
		layers                           [][]it.Entry
		effLimit, bytesLimit, shareLimit string
	}
	var cases []testCase
	for _, s := range it.WasteEdges() {
		// 29% is the share of one of them, exactly.
		cases = append(cases, testCase{s.Name, s.Layers, "0.5", "1000000", "0.29"})
	}
	for c := range 40 {
		cases = append(cases, testCase{fmt.Sprintf("random %d", c), randomStack(rng),
			[]string{"0", "0.5", "0.9", "0.95", "1"}[rng.IntN(5)],
			[]string{"0", "1000", "5000"}[rng.IntN(3)],
			[]string{"0", "0.1", "0.25", "0.5", "1"}[rng.IntN(5)]})
	}
	for c, tc := range cases {
		var steps []it.Step
		for i, entries := range tc.layers {
			steps = append(steps, it.By(fmt.Sprintf("layer %d", i), it.Layer(t, entries...)))
		}
		tarball := filepath.Join(dir, fmt.Sprintf("case%d.tar", c))
		it.DockerSave(t, tarball, []string{"imgcompare-test/random:latest"}, it.Image(t, v1.Config{}, steps...))
		want := runDive(t, diveBin, tarball, "--lowestEfficiency", tc.effLimit, "--highestWastedBytes", tc.bytesLimit, "--highestUserWastedPercent", tc.shareLimit)

		cmd := exec.Command(bin, "-o", "json", "--largest", "1000", "--min-efficiency", tc.effLimit, "--max-wasted-bytes", tc.bytesLimit, "--max-wasted-percent", tc.shareLimit, tarball)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		passed := err == nil
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
			t.Fatalf("%s: imgcompare: %v\n%s\n%s", tc.name, err, stderr.String(), describeStack(tc.layers))
		}
		diffs := compareWaste(t, stdout.String(), want)
		if passed != want.passed {
			diffs = append(diffs, fmt.Sprintf("rules (efficiency %s, bytes %s, share %s): imgcompare passed %v, dive %v\n%s",
				tc.effLimit, tc.bytesLimit, tc.shareLimit, passed, want.passed, stderr.String()))
		}
		if len(diffs) > 0 {
			t.Errorf("%s (seed %d):\n%s\nlayers:\n%s", tc.name, seed, strings.Join(diffs, "\n"), describeStack(tc.layers))
		}
	}
}

// randomStack makes two to five layers over a few names, so that layers
// meet on the same paths.
func randomStack(rng *rand.Rand) [][]it.Entry {
	dirs := []string{"a", "a/b", "c", "v"}
	files := []string{"a/f", "a/g", "a/b/h", "c/i", "top", "v/j"}
	gone := []string{"n", "s/f", "v/run/x", "a/b/none"} // never written
	size := func() int64 { return int64(rng.IntN(31)) * 100 }
	op := func(first bool) []it.Entry {
		kinds := 9
		if first {
			kinds = 4 // only what adds
		}
		switch rng.IntN(kinds) {
		case 0, 1:
			return []it.Entry{it.File(files[rng.IntN(len(files))], size())}
		case 2:
			return []it.Entry{it.Dir(dirs[rng.IntN(len(dirs))])}
		case 3:
			switch rng.IntN(3) {
			case 0:
				return []it.Entry{it.Symlink("s", "a")}
			case 1:
				return []it.Entry{it.Symlink("v/run", "/run")}
			}
			return []it.Entry{it.File(dirs[rng.IntN(len(dirs))], size())} // a directory becomes a file
		case 4:
			p := files[rng.IntN(len(files))]
			return []it.Entry{it.File(p, size()), it.File(p, size())} // the same name twice
		case 5, 6:
			all := append(append(append([]string{}, dirs...), files...), gone...)
			return []it.Entry{whiteout(all[rng.IntN(len(all))])}
		case 7:
			return []it.Entry{it.Opaque(dirs[rng.IntN(len(dirs))])}
		}
		return []it.Entry{whiteout(gone[rng.IntN(len(gone))])}
	}
	layers := make([][]it.Entry, 2+rng.IntN(4))
	for i := range layers {
		n := 1 + rng.IntN(5)
		if i == 0 {
			n += 3
		}
		for range n {
			layers[i] = append(layers[i], op(i == 0)...)
		}
		// Docker cannot apply an entry under a symlink its own layer
		// made to a directory it does not hold, and imgcompare refuses
		// one (exit 2): leave those out.
		var links []string
		for _, e := range layers[i] {
			if e.Symlink != "" {
				links = append(links, e.Name+"/")
			}
		}
		layers[i] = slices.DeleteFunc(layers[i], func(e it.Entry) bool {
			return slices.ContainsFunc(links, func(link string) bool { return strings.HasPrefix(e.Name, link) })
		})
	}
	if rng.IntN(4) == 0 {
		// A top layer that only deletes: no bytes above the first.
		layers = append(layers[:1], []it.Entry{whiteout(files[rng.IntN(len(files))]), whiteout(dirs[rng.IntN(len(dirs))])})
	}
	return layers
}

func whiteout(p string) it.Entry {
	dir, name := path.Split(p)
	return it.Whiteout(dir, name)
}

func describeStack(layers [][]it.Entry) string {
	var b strings.Builder
	for i, entries := range layers {
		fmt.Fprintf(&b, "  layer %d:", i)
		for _, e := range entries {
			switch {
			case e.Dir:
				fmt.Fprintf(&b, " %s/", e.Name)
			case e.Symlink != "":
				fmt.Fprintf(&b, " %s->%s", e.Name, e.Symlink)
			default:
				fmt.Fprintf(&b, " %s(%d)", e.Name, e.Size)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
