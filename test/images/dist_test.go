package images

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// TestDist runs make dist's script twice: the same bytes both times; the
// files verify against SHA256SUMS with sha256sum; the linux/amd64 binary
// and the linux/arm64 one under qemu print the version and commit; the
// darwin and windows ones are Mach-O and PE files; every SBOM is an SPDX
// document listing the modules the binary was built with, at go.mod's
// versions.
func TestDist(t *testing.T) {
	qemu, err := exec.LookPath("qemu-aarch64-static")
	if err != nil {
		dockertest.Missing(t, "no qemu-aarch64-static", "qemu-user-static", "scripts/install-deps.sh")
	}
	root := dockertest.RepoRoot()
	const version = "v0.0.0-disttest"
	dist := func(dir string) []byte {
		cmd := exec.Command(filepath.Join(root, "scripts", "dist.sh"))
		cmd.Env = append(os.Environ(), "DIST_DIR="+dir, "VERSION="+version)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scripts/dist.sh: %v\n%s", err, out)
		}
		sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		return sums
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	sums := dist(a)
	if again := dist(b); !bytes.Equal(sums, again) {
		t.Errorf("two builds of one commit differ:\n%s\n%s", sums, again)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = a
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	if n := strings.Count(string(sums), "\n"); n != 12 {
		t.Errorf("SHA256SUMS lists %d files, want 6 binaries and their 6 SBOMs:\n%s", n, sums)
	}

	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	for platform, run := range map[string][]string{
		"linux/amd64": {filepath.Join(a, "imgcompare-"+version+"-linux-amd64")},
		"linux/arm64": {qemu, filepath.Join(a, "imgcompare-"+version+"-linux-arm64")},
	} {
		out, err := exec.Command(run[0], append(run[1:], "--version")...).Output()
		if err != nil {
			t.Errorf("%s --version: %v", platform, err)
			continue
		}
		text := string(out)
		if !strings.HasPrefix(text, "imgcompare "+version+"\nrevision "+strings.TrimSpace(string(head))) || !strings.Contains(text, " "+platform+"\n") {
			t.Errorf("%s --version printed:\n%s", platform, text)
		}
	}
	for name, magic := range map[string][]byte{
		"darwin-amd64": {0xcf, 0xfa, 0xed, 0xfe}, "darwin-arm64": {0xcf, 0xfa, 0xed, 0xfe},
		"windows-amd64.exe": []byte("MZ"), "windows-arm64.exe": []byte("MZ"),
	} {
		b, err := os.ReadFile(filepath.Join(a, "imgcompare-"+version+"-"+name))
		if err != nil || !bytes.HasPrefix(b, magic) {
			t.Errorf("%s: not the executable format of its platform (%v)", name, err)
		}
	}

	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/google/go-containerregistry").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "pkg:golang/github.com/google/go-containerregistry@" + strings.TrimSpace(string(out))
	sboms, _ := filepath.Glob(filepath.Join(a, "*.spdx.json"))
	if len(sboms) != 6 {
		t.Fatalf("%d SBOMs, want 6", len(sboms))
	}
	for _, f := range sboms {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				ExternalRefs []struct {
					Locator string `json:"referenceLocator"`
				} `json:"externalRefs"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" {
			t.Errorf("%s: not an SPDX 2.3 document: %v", filepath.Base(f), err)
			continue
		}
		found := false
		for _, p := range doc.Packages {
			for _, r := range p.ExternalRefs {
				found = found || r.Locator == want
			}
		}
		if !found {
			t.Errorf("%s does not list %s", filepath.Base(f), want)
		}
		if bytes.Contains(b, []byte(os.TempDir())) {
			t.Errorf("%s names the directory it was scanned in", filepath.Base(f))
		}
	}
}
