package images

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// debianRootfs is a real Debian bookworm tree, debootstrap's minbase with
// gcc-12, g++-12, python3.11 and busybox, as a tar archive
// (scripts/debian-rootfs.sh, cached).
func debianRootfs(t *testing.T) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "debian-rootfs.sh"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		dockertest.Missing(t, "scripts/debian-rootfs.sh: "+err.Error()+": "+stderr.String(), "a debootstrap tree (root, debootstrap, Debian's mirror)", "scripts/debian-rootfs.sh")
	}
	return strings.TrimSpace(string(out))
}

// treeEntry is what the Debian tree itself says of a path.
type treeEntry struct {
	typeflag byte
	mode     int64
	link     string
	head     string // the first bytes of an executable file
}

func readTree(t *testing.T, file string) map[string]treeEntry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tree := map[string]treeEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tree
		}
		if err != nil {
			t.Fatal(err)
		}
		e := treeEntry{typeflag: h.Typeflag, mode: h.Mode, link: h.Linkname}
		if h.Typeflag == tar.TypeReg && h.Mode&0o111 != 0 {
			b := make([]byte, 4)
			n, _ := io.ReadFull(tr, b)
			e.head = string(b[:n])
		}
		tree[path.Clean("/"+h.Name)] = e
	}
}

// runsInTree reports whether p is, in the tree, an ELF binary or a script,
// or a symlink to one, following links as the kernel does (/bin is a link
// to usr/bin on a merged-/usr Debian).
func runsInTree(tree map[string]treeEntry, p string) bool {
	for range 40 {
		// Resolve the directories on the way.
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := ""
		for i, name := range parts {
			cur += "/" + name
			e, ok := tree[cur]
			if !ok {
				return false
			}
			if e.typeflag == tar.TypeSymlink && i < len(parts)-1 {
				target := e.link
				if !path.IsAbs(target) {
					target = path.Join(path.Dir(cur), target)
				}
				cur = path.Clean(target)
			}
		}
		e := tree[cur]
		switch e.typeflag {
		case tar.TypeReg:
			return e.mode&0o111 != 0 && (strings.HasPrefix(e.head, "\x7fELF") || strings.HasPrefix(e.head, "#!"))
		case tar.TypeSymlink:
			if path.IsAbs(e.link) {
				p = path.Clean(e.link)
			} else {
				p = path.Join(path.Dir(cur), e.link)
			}
		default:
			return false
		}
	}
	return false
}

type finding struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

func compressedOf(t *testing.T, stdout string) int64 {
	t.Helper()
	var doc struct {
		Images []struct {
			Size struct {
				Compressed int64 `json:"compressed"`
			} `json:"size"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 1 {
		t.Fatalf("imgcompare -o json: %v\n%s", err, stdout)
	}
	return doc.Images[0].Size.Compressed
}

func findingsOf(t *testing.T, stdout string) []finding {
	t.Helper()
	var doc struct {
		Images []struct {
			Size struct {
				Uncompressed int64 `json:"uncompressed"`
			} `json:"size"`
			Findings []finding `json:"findings"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 1 {
		t.Fatalf("imgcompare -o json: %v\n%s", err, stdout)
	}
	return doc.Images[0].Findings
}

// TestDebianFindings runs imgcompare on a real Debian tree and on the same
// tree with its shells deleted by a second layer: every shell, package
// manager and toolchain it reports is, in the tree, an ELF binary or a
// script or a link to one, in a bin directory; the data files Debian names
// after programs are not reported; the compilers are found by their
// versioned and triplet names; with the shells gone --forbid shell passes
// and --forbid toolchain still fails. The second image's waste is checked
// against dive, and its size against the Docker engine's.
func TestDebianFindings(t *testing.T) {
	rootfs := debianRootfs(t)
	tree := readTree(t, rootfs)
	base, err := tarball.LayerFromFile(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	full := filepath.Join(dir, "debian.tar")
	it.DockerSave(t, full, []string{"imgcompare-test/debian:full"}, it.Image(t, v1.Config{}, it.By("debootstrap", base)))

	stdout, stderr, code := imgcompare(t, "-o", "json", full)
	if code != 0 {
		t.Fatalf("imgcompare: exit %d: %s", code, stderr)
	}
	// The estimate's bound holds on the tree too.
	exact, stderr, code := imgcompare(t, "-o", "json", "--exact-compressed", full)
	if code != 0 {
		t.Fatalf("imgcompare --exact-compressed: exit %d: %s", code, stderr)
	}
	est, want := compressedOf(t, stdout), compressedOf(t, exact)
	errPercent := 100 * float64(est-want) / float64(want)
	t.Logf("Debian: estimated %d, exact %d bytes: %+.2f%%", est, want, errPercent)
	if errPercent > 2 || errPercent < -2 {
		t.Errorf("the estimate is %+.2f%% off the exact size", errPercent)
	}

	found := map[string][]string{}
	for _, f := range findingsOf(t, stdout) {
		found[f.Kind] = append(found[f.Kind], f.Path)
		switch f.Kind {
		case "shell", "toolchain", "package-manager":
			if f.Kind == "package-manager" && f.Detail == "dpkg database" {
				continue
			}
			if dir := path.Base(path.Dir(f.Path)); dir != "bin" && dir != "sbin" || !runsInTree(tree, f.Path) {
				t.Errorf("%s %s: not a program in a bin directory of the tree", f.Kind, f.Path)
			}
		}
	}
	for kind, want := range map[string][]string{
		"shell":           {"/usr/bin/bash", "/usr/bin/dash", "/usr/bin/sh", "/usr/bin/rbash", "/usr/bin/busybox"},
		"package-manager": {"/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/var/lib/dpkg/status"},
		"toolchain":       {"/usr/bin/gcc-12", "/usr/bin/x86_64-linux-gnu-gcc-12", "/usr/bin/g++-12", "/usr/bin/x86_64-linux-gnu-g++-12"},
	} {
		for _, p := range want {
			if !slices.Contains(found[kind], p) {
				t.Errorf("%s: %s not reported (reported: %v)", kind, p, found[kind])
			}
		}
	}

	// The same tree, its shells removed by a layer above.
	var gone []it.Entry
	for _, name := range []string{"sh", "bash", "dash", "rbash", "busybox"} {
		gone = append(gone, it.Whiteout("usr/bin", name))
	}
	noShell := filepath.Join(dir, "debian-no-shell.tar")
	const tag = "imgcompare-test/debian:no-shell"
	it.DockerSave(t, noShell, []string{tag}, it.Image(t, v1.Config{}, it.By("debootstrap", base), it.By("RUN rm shells", it.Layer(t, gone...))))
	if _, stderr, code := imgcompare(t, "--forbid", "shell", noShell); code != 0 {
		t.Errorf("--forbid shell without shells: exit %d: %s", code, stderr)
	}
	_, stderr, code = imgcompare(t, "--forbid", "toolchain", noShell)
	if code != 1 || !strings.Contains(stderr, "gcc-12") {
		t.Errorf("--forbid toolchain with gcc-12: exit %d: %s", code, stderr)
	}

	stdout, stderr, code = imgcompare(t, "-o", "json", "--largest", "1000", noShell)
	if code != 0 {
		t.Fatalf("imgcompare: exit %d: %s", code, stderr)
	}
	for _, d := range compareWaste(t, stdout, runDive(t, dive(t), noShell)) {
		t.Error(d)
	}
	dockertest.Require(t)
	dockertest.Docker(t, "load", "-q", "-i", noShell)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	inspect := strings.TrimSpace(dockertest.Docker(t, "image", "inspect", "-f", "{{.Size}}", tag))
	var doc struct {
		Images []struct {
			Size struct{ Uncompressed int64 } `json:"size"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if want, err := strconv.ParseInt(inspect, 10, 64); err != nil || doc.Images[0].Size.Uncompressed != want {
		t.Errorf("size %d, docker image inspect %s (%v)", doc.Images[0].Size.Uncompressed, inspect, err)
	}
}

// TestDebianShellThroughLinkedDirectory builds on the Debian tree, with the
// Docker engine, the step that makes bash the shell, RUN ln -sf /bin/bash
// /bin/sh, where /bin is a link to usr/bin: the kernel writes
// /usr/bin/sh → /bin/bash, which imgcompare follows through /bin to the
// program /usr/bin/bash.
func TestDebianShellThroughLinkedDirectory(t *testing.T) {
	rootfs := debianRootfs(t)
	dockertest.Require(t)
	const base, tag = "imgcompare-test/debian:base", "imgcompare-test/debian:bash-sh"
	dockertest.Docker(t, "import", rootfs, base)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag, base) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nRUN ln -sf /bin/bash /bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dockertest.Docker(t, "build", "-q", "--network", "host", "-t", tag, dir)
	stdout, stderr, code := imgcompare(t, "-o", "json", "docker-daemon:"+tag)
	if code != 0 {
		t.Fatalf("imgcompare: exit %d: %s", code, stderr)
	}
	var sh *finding
	for _, f := range findingsOf(t, stdout) {
		if f.Kind == "shell" && f.Path == "/usr/bin/sh" {
			sh = &f
		}
	}
	if sh == nil || sh.Detail != "→ /usr/bin/bash" {
		t.Errorf("shell /usr/bin/sh: %+v, want → /usr/bin/bash; findings: %s", sh, stdout)
	}
}
