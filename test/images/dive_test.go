package images

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

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
}

var (
	diveEfficiency = regexp.MustCompile(`efficiency: ([0-9.]+) %`)
	diveWasted     = regexp.MustCompile(`wastedBytes: ([0-9]+) bytes`)
	diveUser       = regexp.MustCompile(`userWastedPercent: ([0-9.NaInf+-]+) %`)
)

func runDive(t *testing.T, bin, tarball string) diveFigures {
	t.Helper()
	// dive --ci exits 1 when its default rules fail; its figures are printed either way.
	ci, _ := exec.Command(bin, "--ci", "--source", "docker-archive", tarball).CombinedOutput()
	var f diveFigures
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
			dockertest.Docker(t, "save", "-o", tarball, image)
			want := runDive(t, diveBin, tarball)

			stdout, stderr, code := imgcompare(t, "-o", "json", "--largest", "1000", tarball+":"+image)
			if code != 0 {
				t.Fatalf("imgcompare: exit %d: %s", code, stderr)
			}
			var doc struct {
				Images []struct {
					Waste struct {
						Efficiency        float64 `json:"efficiency"`
						WastedBytes       int64   `json:"wasted_bytes"`
						UserWastedPercent float64 `json:"user_wasted_percent"`
						Paths             []struct {
							Path       string `json:"path"`
							References int    `json:"references"`
							Size       int64  `json:"size"`
						} `json:"wasted_paths"`
					} `json:"waste"`
				} `json:"images"`
			}
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			got := doc.Images[0].Waste
			if s := fmt.Sprintf("%2.4f", got.Efficiency*100); s != want.efficiency {
				t.Errorf("efficiency %s%%, dive %s%%", s, want.efficiency)
			}
			if got.WastedBytes != want.wastedBytes {
				t.Errorf("wasted %d bytes, dive %d", got.WastedBytes, want.wastedBytes)
			}
			// dive divides by zero for an image of one layer.
			if want.userWastedPercent != "NaN" {
				if s := fmt.Sprintf("%2.4f", got.UserWastedPercent); s != want.userWastedPercent {
					t.Errorf("user wasted %s%%, dive %s%%", s, want.userWastedPercent)
				}
			}
			var files []string
			for _, p := range got.Paths {
				files = append(files, fmt.Sprintf("%s %d %d", p.Path, p.References, p.Size))
			}
			if strings.Join(sorted(files), "\n") != strings.Join(sorted(want.files), "\n") {
				t.Errorf("wasted paths:\n%s\ndive:\n%s", strings.Join(files, "\n"), strings.Join(want.files, "\n"))
			}
			if image == wasteful && want.wastedBytes == 0 {
				t.Error("the wasteful image wastes nothing: the test proves nothing")
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}
