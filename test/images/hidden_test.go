package images

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// engineFiles are the files the Docker engine puts into every container
// itself (its init layer): docker export shows them, the image does not
// hold them. /etc/mtab is a symlink to /proc/mounts, 12 bytes as Size
// counts it.
var engineFiles = map[string]bool{".dockerenv": true, "etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true, "etc/mtab": true}

// eachExported calls fn for each entry of what docker export gives for a
// container of image: the filesystem the engine assembles.
func eachExported(t *testing.T, image string, fn func(h *tar.Header)) {
	t.Helper()
	id := strings.TrimSpace(dockertest.Docker(t, "create", image))
	t.Cleanup(func() { dockertest.DockerErr("rm", "-f", id) })
	cmd := exec.Command("docker", "export", id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// exportedBytes is the size of a container's filesystem as docker export
// gives it, counted as docker image inspect counts Size: each file once
// (a hard link adds nothing), a symlink as its target's length; the
// engine's own files left out.
func exportedBytes(t *testing.T, image string) int64 {
	t.Helper()
	var n int64
	eachExported(t, image, func(h *tar.Header) {
		if engineFiles[strings.TrimPrefix(filepath.Clean(h.Name), "/")] {
			return
		}
		switch h.Typeflag {
		case tar.TypeReg:
			n += h.Size
		case tar.TypeSymlink:
			n += int64(len(h.Linkname))
		}
	})
	return n
}

// writeFiller writes a file of n bytes of a pattern gzip does not fold
// away entirely.
func writeFiller(t *testing.T, file string, n int) {
	t.Helper()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHiddenLikeDocker builds with the Docker engine an image whose layers
// hide bytes each way (a file copied then chown -R'd, a file written then
// removed, a file written then overwritten), and checks imgcompare's
// hidden bytes against the engine's own figures: docker image inspect's
// Size less the size of what docker export gives for a container of it.
func TestHiddenLikeDocker(t *testing.T) {
	dockertest.BuildImages(t)
	dir := t.TempDir()
	writeFiller(t, filepath.Join(dir, "big"), 5<<20)
	dockerfile := "FROM " + rootImage + "\n" +
		"COPY big /data/big\n" +
		"RUN chown -R 1000 /data\n" +
		"RUN head -c 300000 /data/big > /tmp/scratch && echo built\n" +
		"RUN rm /tmp/scratch && head -c 1000 /data/big > /etc/motd2\n" +
		"RUN head -c 2000 /data/big > /etc/motd2\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	const tag = "imgcompare-test/hidden:latest"
	dockertest.Docker(t, "build", "-q", "--network", "host", "-t", tag, dir)
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	checkDockerfileLines(t, tag, filepath.Join(dir, "Dockerfile"))
	// The classic builder writes its history otherwise: the same lines.
	const classic = "imgcompare-test/hidden:classic"
	cmd := exec.Command("docker", "build", "-q", "--network", "host", "-t", classic, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build with the classic builder: %v\n%s", err, out)
	}
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", classic) })
	checkDockerfileLines(t, classic, filepath.Join(dir, "Dockerfile"))

	size := imageSize(t, tag)
	exported := exportedBytes(t, tag)
	stdout, stderr, code := imgcompare(t, "-o", "json", "--largest", "20", "docker-daemon:"+tag)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	type hiddenPath struct {
		Path  string
		Bytes int64
		Cause string
	}
	doc := parseJSON[struct {
		Images []struct {
			Size   struct{ Uncompressed int64 }
			Hidden struct {
				Visible, Bytes int64
				ByCause        map[string]int64 `json:"by_cause"`
				Paths          []hiddenPath
			}
		}
	}](t, stdout)
	img := doc.Images[0]
	t.Logf("docker image inspect %d, docker export %d: %d hidden; imgcompare: size %d, visible %d, hidden %d %v",
		size, exported, size-exported, img.Size.Uncompressed, img.Hidden.Visible, img.Hidden.Bytes, img.Hidden.ByCause)
	if img.Size.Uncompressed != size || img.Hidden.Visible != exported || img.Hidden.Bytes != size-exported {
		t.Errorf("imgcompare's hidden %d bytes (visible %d), the engine's %d (export %d)", img.Hidden.Bytes, img.Hidden.Visible, size-exported, exported)
	}
	want := map[string]int64{"rewritten unchanged": 5 << 20, "removed later": 300000, "replaced": 1000}
	for cause, b := range want {
		if img.Hidden.ByCause[cause] != b {
			t.Errorf("%s: %d bytes, want %d", cause, img.Hidden.ByCause[cause], b)
		}
	}
	found := map[hiddenPath]bool{}
	for _, p := range img.Hidden.Paths {
		found[p] = true
	}
	for _, p := range []hiddenPath{{"/data/big", 5 << 20, "rewritten unchanged"}, {"/tmp/scratch", 300000, "removed later"}, {"/etc/motd2", 1000, "replaced"}} {
		if !found[p] {
			t.Errorf("%+v not among the hidden paths %+v", p, img.Hidden.Paths)
		}
	}
}

// checkDockerfileLines reads the image TestHiddenLikeDocker builds with
// --dockerfile: each of its own layers names its line, the hidden paths
// name the lines that wrote and hid them; another stage's Dockerfile is
// said not to match, and the layers keep their history.
func checkDockerfileLines(t *testing.T, image, file string) {
	t.Helper()
	stdout, stderr, code := imgcompare(t, "-o", "json", "--dockerfile", file, "docker-daemon:"+image)
	if code != 0 || stderr != "" {
		t.Fatalf("--dockerfile: exit %d: %s", code, stderr)
	}
	doc := parseJSON[struct {
		Images []struct {
			Layers []struct {
				Instruction    string
				DockerfileLine int `json:"dockerfile_line"`
			}
		}
	}](t, stdout)
	var got []string
	for _, l := range doc.Images[0].Layers {
		got = append(got, strconv.Itoa(l.DockerfileLine)+" "+l.Instruction)
	}
	want := "0 |2 COPY big /data/big|3 RUN chown -R 1000 /data|4 RUN head -c 300000 /data/big > /tmp/scratch && echo built|5 RUN rm /tmp/scratch && head -c 1000 /data/big > /etc/motd2|6 RUN head -c 2000 /data/big > /etc/motd2"
	if strings.Join(got, "|") != want {
		t.Errorf("%s: layers\n%s\nwant\n%s", image, strings.Join(got, "|"), want)
	}
	text, _, _ := imgcompare(t, "--dockerfile", file, "docker-daemon:"+image)
	if !strings.Contains(text, "rewritten unchanged  /data/big (layer 2, "+file+":2, hidden by layer 3, "+file+":3)") {
		t.Errorf("%s: the hidden path does not name its lines:\n%s", image, text)
	}
	// What to change: the chown'd copy first, its fix COPY --chown, and
	// the gate names it.
	if !strings.Contains(text, "5.24 MB  rewritten unchanged  layer 2, "+file+":2, hidden by layer 3, "+file+":3 (/data/big): set owner and mode as the files are copied (COPY --chown=UID:GID") {
		t.Errorf("%s: what to change does not begin with the chown:\n%s", image, text)
	}
	_, stderr, code = imgcompare(t, "--dockerfile", file, "--max-reclaimable", "1MB", "docker-daemon:"+image)
	if code != 1 || !strings.Contains(stderr, "--max-reclaimable: reclaimable 5.54 MB (5543880 bytes) exceeds 1.00 MB (1000000 bytes); the largest, 5.24 MB (5242880 bytes) rewritten unchanged of layer 2") {
		t.Errorf("%s: --max-reclaimable 1MB: exit %d, stderr %q", image, code, stderr)
	}
	other := filepath.Join(t.TempDir(), "Dockerfile")
	if err := os.WriteFile(other, []byte("FROM scratch\nCOPY big /big\nRUN true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = imgcompare(t, "--dockerfile", other, "docker-daemon:"+image)
	if code != 0 || !strings.Contains(stderr, "does not match the image: layer 5 was made by RUN where the Dockerfile has COPY at line 2") {
		t.Errorf("%s: another Dockerfile: exit %d, stderr %q", image, code, stderr)
	}
}

// TestReclaimableLikeContainer reads the single-stage image's reclaimable
// bytes (its Go toolchain and build cache) and counts each directory's
// bytes inside a container of the image, as its own find and wc see them.
func TestReclaimableLikeContainer(t *testing.T) {
	dockertest.BuildImages(t)
	stdout, stderr, code := imgcompare(t, "-o", "json", "docker-daemon:"+dockertest.SingleStage)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	doc := parseJSON[struct {
		Images []struct {
			Size        struct{ Uncompressed int64 }
			Reclaimable []struct {
				Kind, Path string
				Bytes      int64
			}
		}
	}](t, stdout)
	img := doc.Images[0]
	kinds := map[string]string{}
	var total int64
	for _, r := range img.Reclaimable {
		kinds[r.Kind] = r.Path
		total += r.Bytes
		out := dockertest.Docker(t, "run", "--rm", "--network", "none", "--entrypoint", "sh", dockertest.SingleStage,
			"-c", "find "+r.Path+" -type f -exec cat {} + | wc -c")
		if got, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil || got != r.Bytes {
			t.Errorf("%s %s: %d bytes, the container counts %s", r.Kind, r.Path, r.Bytes, out)
		}
	}
	if kinds["Go toolchain"] != "/usr/local/go" || kinds["Go build cache"] != "/root/.cache/go-build" {
		t.Errorf("reclaimable %+v: want the Go toolchain in /usr/local/go and the build cache", img.Reclaimable)
	}
	t.Logf("reclaimable %d of %d bytes (%.1f%%): %+v", total, img.Size.Uncompressed, 100*float64(total)/float64(img.Size.Uncompressed), img.Reclaimable)
}
