package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// imgcompare builds the CLI and runs it, returning stdout, stderr and the
// exit status.
func imgcompare(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	bin := buildImgcompare(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	checkPackages(t, stdout.Bytes())
	return stdout.String(), stderr.String(), 0
}

// checkPackages checks, on every JSON report the tests read, that the
// packages' bytes and the unowned ones are the final filesystem's.
func checkPackages(t *testing.T, stdout []byte) {
	t.Helper()
	var doc struct {
		Images []struct {
			Hidden   *struct{ Visible int64 }
			Packages *struct {
				Bytes      int64
				Attributed int64 `json:"attributed_bytes"`
				Unowned    int64 `json:"unowned_bytes"`
			}
		}
	}
	if json.Unmarshal(stdout, &doc) != nil {
		return // not a JSON report
	}
	for i, img := range doc.Images {
		if p := img.Packages; p != nil && (p.Attributed+p.Unowned != p.Bytes || img.Hidden == nil || p.Bytes != img.Hidden.Visible) {
			t.Errorf("image %d: packages %d + unowned %d, want the final filesystem's %+v", i, p.Attributed, p.Unowned, img.Hidden)
		}
	}
}

// TestImgcompareOnProjectImages analyses the images make images builds,
// in the local Docker engine: sizes agree with docker image inspect, and
// the CI gate passes for the multi-stage image and fails, rule by rule,
// for the single-stage one.
func TestImgcompareOnProjectImages(t *testing.T) {
	dockertest.BuildImages(t)
	images := []string{dockertest.SingleStage, dockertest.Alpine, dockertest.MultiStage}

	stdout, stderr, code := imgcompare(t, append([]string{"-o", "json"}, images...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Images []struct {
			Source string
			Size   struct{ Uncompressed, Compressed int64 }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 3 {
		t.Fatalf("JSON output: %v\n%s", err, stdout)
	}
	for i, img := range images {
		want := dockertest.ImageSize(t, img)
		got := doc.Images[i].Size.Uncompressed
		t.Logf("%s: uncompressed %d bytes (docker image inspect: %d), compressed %d bytes", img, got, want, doc.Images[i].Size.Compressed)
		if got != want {
			t.Errorf("%s: uncompressed size %d, docker image inspect says %d", img, got, want)
		}
		if doc.Images[i].Source != "docker-daemon" {
			t.Errorf("%s: source %q", img, doc.Images[i].Source)
		}
	}

	gate := []string{"--max-size", "6.5MB", "--max-compressed-size", "3MB", "--forbid", "shell,package-manager,toolchain,root,setuid,world-writable"}
	if _, stderr, code := imgcompare(t, append(gate, dockertest.MultiStage)...); code != 0 {
		t.Errorf("gate on %s: exit %d\n%s", dockertest.MultiStage, code, stderr)
	}
	if _, stderr, code := imgcompare(t, "--min-reduction", "98%", dockertest.SingleStage, dockertest.MultiStage); code != 0 {
		t.Errorf("--min-reduction 98%%: exit %d\n%s", code, stderr)
	}

	_, stderr, code = imgcompare(t, append(gate, dockertest.SingleStage)...)
	if code != 1 {
		t.Fatalf("gate on %s: exit %d, want 1\n%s", dockertest.SingleStage, code, stderr)
	}
	size := dockertest.ImageSize(t, dockertest.SingleStage)
	for _, want := range []string{
		"imgcompare: budget: echo_app: --max-size: uncompressed size ",
		"(" + strconv.FormatInt(size, 10) + " bytes) exceeds 6.50 MB (6500000 bytes)",
		"imgcompare: budget: echo_app: --max-compressed-size: compressed size ",
		"imgcompare: budget: echo_app: --forbid: shell: /bin/",
		"imgcompare: budget: echo_app: --forbid: toolchain: /usr/local/go/bin/go",
		"imgcompare: budget: echo_app: --forbid: root: runs as root (no user set)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("violations lack %q:\n%s", want, stderr)
		}
	}

	_, stderr, code = imgcompare(t, "echo_app_multistage:no-such-tag")
	if code != 2 || !strings.Contains(stderr, "echo_app_multistage:no-such-tag") {
		t.Errorf("missing image: exit %d, stderr %q; want 2 naming the image", code, stderr)
	}
}

// TestEstimatedCompressedSize checks the default, estimated compressed size
// against the exact one (--exact-compressed: gzip level 6 of every layer)
// on the project's images: within 2%.
func TestEstimatedCompressedSize(t *testing.T) {
	dockertest.BuildImages(t)
	dir := t.TempDir()
	for _, image := range []string{dockertest.SingleStage, dockertest.Alpine, dockertest.MultiStage} {
		tarball := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(image)+".tar")
		dockertest.Docker(t, "save", "-o", tarball, image)
		sizes := map[string]int64{}
		for _, mode := range []string{"estimated", "computed"} {
			args := []string{"-o", "json", tarball + ":" + image}
			if mode == "computed" {
				args = append([]string{"--exact-compressed"}, args...)
			}
			stdout, stderr, code := imgcompare(t, args...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", image, code, stderr)
			}
			var doc struct {
				Images []struct {
					Size struct {
						Compressed int64  `json:"compressed"`
						Source     string `json:"compressed_source"`
					} `json:"size"`
				} `json:"images"`
			}
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			// Layers of 16 MiB or less are compressed whole, so only the
			// single-stage image is estimated.
			want := mode
			if image != dockertest.SingleStage {
				want = "computed"
			}
			if got := doc.Images[0].Size.Source; got != want {
				t.Fatalf("%s: compressed size %s, want %s", image, got, want)
			}
			sizes[mode] = doc.Images[0].Size.Compressed
		}
		errPercent := 100 * float64(sizes["estimated"]-sizes["computed"]) / float64(sizes["computed"])
		t.Logf("%s: estimated %d, exact %d bytes: %+.2f%%", image, sizes["estimated"], sizes["computed"], errPercent)
		if errPercent > 2 || errPercent < -2 {
			t.Errorf("%s: the estimate is %+.2f%% off the exact size", image, errPercent)
		}
	}
}

// TestOCIFromSkopeo reads the images as skopeo writes them, an OCI
// archive and an OCI layout, each copied from a docker save tarball: the
// same files and uncompressed size as from the engine, and the compressed
// size the layout stores.
func TestOCIFromSkopeo(t *testing.T) {
	dockertest.BuildImages(t)
	if _, err := exec.LookPath("skopeo"); err != nil {
		dockertest.Missing(t, "skopeo is not installed", "skopeo", "scripts/install-deps.sh")
	}
	dir := t.TempDir()
	saved := filepath.Join(dir, "alpine.tar")
	dockertest.Docker(t, "save", "-o", saved, dockertest.Alpine)
	archive := filepath.Join(dir, "alpine-oci.tar")
	layoutDir := filepath.Join(dir, "layout")
	for _, dst := range []string{"oci-archive:" + archive + ":alpine", "oci:" + layoutDir + ":alpine"} {
		if out, err := exec.Command("skopeo", "copy", "--quiet", "docker-archive:"+saved, dst).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy to %s: %v\n%s", dst, err, out)
		}
	}
	stdout, stderr, code := imgcompare(t, "-o", "json", "docker-daemon:"+dockertest.Alpine, archive, layoutDir+":alpine")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Images []struct {
			Source string
			Files  int
			Size   struct {
				Uncompressed, Compressed int64
				CompressedSource         string   `json:"compressed_source"`
				Formats                  []string `json:"compression_formats"`
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	engine := doc.Images[0]
	for i, want := range []string{"oci-archive", "oci"} {
		got := doc.Images[i+1]
		if got.Source != want || got.Files != engine.Files || got.Size.Uncompressed != engine.Size.Uncompressed ||
			got.Size.CompressedSource != "stored" || strings.Join(got.Size.Formats, ",") != "gzip" || got.Size.Compressed <= 0 {
			t.Errorf("%s: %+v; from the engine: %+v", want, got, engine)
		}
	}
}

// TestThroughSymlinkLikeDocker loads an image whose layer writes through a
// symlink it made (/tools → /usr/bin, then /tools/su2, setuid, and a hard
// link to /tools/su2), and has a hard link whose header makes its file
// setuid, into the Docker engine, exports the container
// filesystem Docker assembles, and checks imgcompare's setuid findings and
// types against it; then layers Docker refuses to apply, which imgcompare
// refuses too.
func TestThroughSymlinkLikeDocker(t *testing.T) {
	dockertest.Require(t)
	img := it.Image(t, v1.Config{Cmd: []string{"/none"}},
		it.By("base", it.Layer(t, it.Dir("usr"), it.Dir("usr/bin"), it.Symlink("lower", "/usr/bin"))),
		it.By("tools", it.Layer(t,
			it.Dir("usr"), it.Dir("usr/bin"), it.Symlink("tools", "/usr/bin"),
			it.Entry{Name: "tools/su2", Size: 100, Mode: 0o4755},
			it.Entry{Name: "copy", Hardlink: "tools/su2"},
			it.File("lower/file", 5),
			// A link header whose mode is not its file's: Docker
			// applies it to the file.
			it.Executable("usr/bin/tool", 10),
			it.Entry{Name: "usr/bin/tool2", Hardlink: "usr/bin/tool", Mode: 0o4755},
		)),
	)
	dir := t.TempDir()
	tarball := filepath.Join(dir, "symlinked.tar")
	const tag = "imgcompare-test/symlinked:latest"
	it.DockerSave(t, tarball, []string{tag}, img)
	dockertest.Docker(t, "load", "-q", "-i", tarball)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	var dockerSetuid []string
	types := map[string]byte{}
	eachExported(t, tag, func(h *tar.Header) {
		p := "/" + strings.TrimSuffix(path.Clean(h.Name), "/")
		types[p] = h.Typeflag
		if h.Mode&0o4000 != 0 && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeLink) {
			dockerSetuid = append(dockerSetuid, p)
		}
	})
	if got, want := strings.Join(sorted(dockerSetuid), " "), "/copy /usr/bin/su2 /usr/bin/tool /usr/bin/tool2"; got != want {
		t.Fatalf("Docker made %q setuid, not %q: the test's premise is wrong", got, want)
	}
	for p, want := range map[string]byte{"/tools": tar.TypeSymlink, "/lower": tar.TypeDir} {
		if types[p] != want {
			t.Fatalf("Docker made %s of type %q, not %q: the test's premise is wrong", p, types[p], want)
		}
	}

	stdout, stderr, code := imgcompare(t, "-o", "json", tarball)
	if code != 0 {
		t.Fatalf("imgcompare: exit %d: %s", code, stderr)
	}
	var doc struct {
		Images []struct {
			Findings []struct {
				Kind string `json:"kind"`
				Path string `json:"path"`
			} `json:"findings"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range doc.Images[0].Findings {
		if f.Kind == "setuid" {
			got = append(got, f.Path)
		}
	}
	if strings.Join(sorted(got), " ") != strings.Join(sorted(dockerSetuid), " ") {
		t.Errorf("setuid: imgcompare %v, Docker %v", got, dockerSetuid)
	}

	// Through a symlink of the layer to a directory the layer does not
	// hold: Docker cannot apply the layer, and imgcompare refuses it.
	for name, layer := range map[string][]it.Entry{
		"a file":   {it.Symlink("t", "/usr/bin"), it.File("t/x", 1)},
		"whiteout": {it.Symlink("v/run", "/run"), it.Whiteout("v/run", "x")},
	} {
		bad := filepath.Join(dir, "bad.tar")
		tag := "imgcompare-test/through-symlink:bad"
		it.DockerSave(t, bad, []string{tag}, it.Image(t, v1.Config{Cmd: []string{"/none"}},
			it.By("base", it.Layer(t, it.Dir("usr"), it.Dir("usr/bin"), it.Dir("v"))), it.By("bad", it.Layer(t, layer...))))
		if out, err := dockertest.DockerErr("load", "-q", "-i", bad); err == nil {
			dockertest.DockerErr("image", "rm", "-f", tag)
			t.Errorf("%s: Docker loaded the layer (%s): the test's premise is wrong", name, out)
		}
		if _, stderr, code := imgcompare(t, bad); code != 2 || !strings.Contains(stderr, "symlink") {
			t.Errorf("%s: imgcompare exit %d, want 2 naming the symlink: %s", name, code, stderr)
		}
	}
}
