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

// adviceImage is what the rebuild tests read of imgcompare's JSON.
type adviceImage struct {
	Size   struct{ Uncompressed int64 }
	Layers []struct {
		Instruction    string
		DockerfileLine int `json:"dockerfile_line"`
	}
	Advice []advice
	Hidden struct {
		Paths []struct {
			Path, Cause   string
			Bytes         int64
			AddedBy       int `json:"added_by_layer"`
			HiddenByLayer int `json:"hidden_by_layer"`
		}
	}
	Largest []struct {
		Path string
		Size int64
	} `json:"largest_files"`
	Runs *struct {
		Path          string
		Bytes         int64
		Static, Go    bool
		StrippedBytes int64 `json:"stripped_bytes"`
	}
}

type advice struct {
	Bytes         int64
	What, Fix     string
	Layer         int
	HiddenByLayer int `json:"hidden_by_layer"`
	Paths         []string
}

// line is the Dockerfile line (from 1) of layer n (from 1) of img.
func (img adviceImage) line(t *testing.T, n int) int {
	t.Helper()
	if n < 1 || n > len(img.Layers) || img.Layers[n-1].DockerfileLine == 0 {
		t.Fatalf("layer %d names no Dockerfile line: %+v", n, img.Layers)
	}
	return img.Layers[n-1].DockerfileLine
}

// find is the first advice about what, made by a layer the Dockerfile
// wrote (not the base image's).
func (img adviceImage) find(t *testing.T, what string) advice {
	t.Helper()
	for _, a := range img.Advice {
		if a.What == what && img.Layers[a.Layer-1].DockerfileLine != 0 {
			return a
		}
	}
	t.Fatalf("no advice about %s: %+v", what, img.Advice)
	return advice{}
}

// imageSize is docker image inspect's Size of tag.
func imageSize(t *testing.T, tag string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(dockertest.Docker(t, "image", "inspect", "-f", "{{.Size}}", tag)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fixCase is one case of the rebuild tests: a build context whose
// Dockerfile leaves bytes of a known cause behind.
type fixCase struct {
	dir string // the build context, its Dockerfile at dir/Dockerfile
	// fix rewrites the Dockerfile's lines as the advice says, and
	// returns the bytes the advice it applied predicts given back.
	fix func(img adviceImage, lines []string) ([]string, int64)
	// gone reports whether a path the fix may remove or change is
	// allowed to differ; every other path must be the same.
	gone func(path, change string) bool
}

// prove builds c's Dockerfile, asks imgcompare what to change, applies
// the fix, rebuilds, and checks that the size fell by the bytes the advice
// predicted, within 1%, and that the final filesystems are the same, path
// by path (type, mode, owners and content: imgcompare diff), but for
// what the fix removes. It returns the figures.
func (c fixCase) prove(t *testing.T, name string) (predicted, fell int64) {
	t.Helper()
	file := filepath.Join(c.dir, "Dockerfile")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	before, after := "imgcompare-test/"+name+":before", "imgcompare-test/"+name+":after"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", before, after) })
	dockertest.Docker(t, "build", "-q", "--network", "host", "-t", before, c.dir)
	stdout, stderr, code := imgcompare(t, "-o", "json", "--largest", "1000000", "--dockerfile", file, "docker-daemon:"+before)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	img := parseJSON[struct{ Images []adviceImage }](t, stdout).Images[0]
	img.likeDive(t, before)
	lines, predicted := c.fix(img, strings.Split(string(src), "\n"))
	fixed := strings.Join(lines, "\n")
	t.Logf("%s: the Dockerfile before:\n%s\nafter the advice (%d bytes):\n%s", name, src, predicted, fixed)
	if err := os.WriteFile(file, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	dockertest.Docker(t, "build", "-q", "--network", "host", "-t", after, c.dir)

	fell = imageSize(t, before) - imageSize(t, after)
	t.Logf("%s: predicted %d bytes, the rebuild gave back %d (%+.3f%%)", name, predicted, fell, 100*float64(fell-predicted)/float64(predicted))
	if d := fell - predicted; d < -predicted/100 || d > predicted/100 {
		t.Errorf("%s: the size fell by %d bytes, the advice predicted %d", name, fell, predicted)
	}
	stdout, stderr, code = imgcompare(t, "diff", "-o", "json", "docker-daemon:"+before, "docker-daemon:"+after)
	files := parseJSON[struct {
		Files []struct {
			Path, Change string
			Before       struct{ Type string }
		} `json:"files"`
	}](t, stdout)
	var other []string
	for _, f := range files.Files {
		// A RUN leaves the empty directories the runtime mounts over
		// (/dev, /proc, /sys) in its layer; with the RUN gone they go
		// too, and a container gets them from its runtime either way.
		mountPoint := (f.Path == "/dev" || f.Path == "/proc" || f.Path == "/sys") && f.Change == "removed" && f.Before.Type == "dir"
		if !mountPoint && (c.gone == nil || !c.gone(f.Path, f.Change)) {
			other = append(other, f.Path+" "+f.Change)
		}
	}
	if len(other) != 0 || code > 1 {
		t.Errorf("%s: the final filesystems differ: %v (exit %d, %s)", name, other, code, stderr)
	}
	return predicted, fell
}

// likeDive checks the advice on image against dive's wasted paths: each
// path dive lists with bytes is hidden in imgcompare's JSON (img, read
// with every path kept), within an item of the advice for its cause and
// layers, and dive's bytes for it (every copy of it the layers hold) are
// its hidden bytes and what the final filesystem still holds of it.
func (img adviceImage) likeDive(t *testing.T, image string) {
	t.Helper()
	tarball := filepath.Join(t.TempDir(), "image.tar")
	dockertest.Docker(t, "save", "-o", tarball, image)
	figures := runDive(t, dive(t), tarball)
	hidden, final := map[string]int64{}, map[string]int64{}
	type group struct {
		what          string
		layer, hidden int
	}
	items := map[group]bool{}
	for _, a := range img.Advice {
		items[group{a.What, a.Layer, a.HiddenByLayer}] = true
	}
	covered := map[string]bool{}
	for _, p := range img.Hidden.Paths {
		hidden[p.Path] += p.Bytes
		covered[p.Path] = items[group{p.Cause, p.AddedBy, p.HiddenByLayer}]
	}
	for _, f := range img.Largest {
		final[f.Path] = f.Size
	}
	checked := 0
	for _, f := range figures.files {
		fields := strings.Fields(f) // path, references, bytes
		bytes, _ := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		p := strings.Join(fields[:len(fields)-2], " ")
		if bytes == 0 {
			continue
		}
		checked++
		if !covered[p] || hidden[p]+final[p] != bytes {
			t.Errorf("%s: dive wastes %d bytes on %s; imgcompare hides %d of it and shows %d, in an item of the advice: %v", image, bytes, p, hidden[p], final[p], covered[p])
		}
	}
	t.Logf("%s: each of dive's %d wasted paths with bytes is in an item of the advice, with the same bytes", image, checked)
}

// writeContext writes files (name to content) into a new build context.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFixProvenByRebuild builds a 50 MiB COPY followed by RUN chown -R,
// and applies imgcompare's first advice as its fix says: the COPY at the
// advised line gets --chown with the owner the chown gave, the RUN at the
// line that hid the bytes goes.
func TestFixProvenByRebuild(t *testing.T) {
	dockertest.BuildImages(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + rootImage + "\nCOPY big /data/big\nRUN chown -R 1000:1000 /data\nCMD [\"sh\"]\n"})
	writeFiller(t, filepath.Join(dir, "big"), 50<<20)
	fixCase{dir: dir, fix: func(img adviceImage, lines []string) ([]string, int64) {
		a := img.Advice[0]
		if a.What != "rewritten unchanged" || !strings.Contains(a.Fix, "COPY --chown=UID:GID") {
			t.Fatalf("first advice %+v: want the chown'd copy, fixed by COPY --chown", a)
		}
		copyAt, chownAt := img.line(t, a.Layer), img.line(t, a.HiddenByLayer)
		fields := strings.Fields(lines[chownAt-1]) // RUN chown -R OWNER PATH
		if len(fields) != 5 || fields[1] != "chown" {
			t.Fatalf("line %d is %q, not the chown the advice names", chownAt, lines[chownAt-1])
		}
		lines[copyAt-1] = strings.Replace(lines[copyAt-1], "COPY ", "COPY --chown="+fields[3]+" ", 1)
		return append(lines[:chownAt-1], lines[chownAt:]...), a.Bytes
	}}.prove(t, "chown")
}

// TestRemovedLaterProvenByRebuild builds a RUN that writes a 30 MiB file
// under /tmp and a later RUN that removes it, and applies the advice:
// the removal goes into the RUN that wrote the file.
func TestRemovedLaterProvenByRebuild(t *testing.T) {
	dockertest.BuildImages(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + rootImage + "\n" +
		"COPY big /src/big\n" +
		"RUN cat /src/big /src/big /src/big /src/big /src/big /src/big > /tmp/work.bin && md5sum /tmp/work.bin > /src/work.md5\n" +
		"RUN rm /tmp/work.bin\n" +
		"CMD [\"sh\"]\n"})
	writeFiller(t, filepath.Join(dir, "big"), 5<<20)
	fixCase{dir: dir, fix: func(img adviceImage, lines []string) ([]string, int64) {
		a := img.Advice[0]
		if a.What != "removed later" || !strings.HasPrefix(a.Fix, "remove it in the same RUN that writes it") || len(a.Paths) != 1 || a.Paths[0] != "/tmp/work.bin" {
			t.Fatalf("first advice %+v: want /tmp/work.bin, removed in the RUN that writes it", a)
		}
		wroteAt, removedAt := img.line(t, a.Layer), img.line(t, a.HiddenByLayer)
		removal, ok := strings.CutPrefix(lines[removedAt-1], "RUN ")
		if !ok || !strings.HasPrefix(lines[wroteAt-1], "RUN ") {
			t.Fatalf("lines %d and %d are not the RUNs the advice names: %q", wroteAt, removedAt, lines)
		}
		lines[wroteAt-1] += " && " + removal
		return append(lines[:removedAt-1], lines[removedAt:]...), a.Bytes
	}}.prove(t, "removed")
}

// TestToolchainProvenByRebuild reads the single-stage image with its
// Dockerfile and writes the multi-stage build the advice about its Go
// toolchain describes: the Dockerfile's stage becomes the build stage,
// and a final stage FROM scratch copies the one program the entrypoint
// runs, built without its symbol table and debug information as the
// advice says. The multi-stage image built from it holds the bytes the
// advice predicted, within 1%, and is within 10% of the project's own
// multi-stage image.
func TestToolchainProvenByRebuild(t *testing.T) {
	args := dockertest.BuildImages(t)
	file := filepath.Join(dockertest.RepoRoot(), "Dockerfile.single-stage")
	stdout, stderr, code := imgcompare(t, "-o", "json", "--dockerfile", file, "docker-daemon:"+dockertest.SingleStage)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	img := parseJSON[struct{ Images []adviceImage }](t, stdout).Images[0]
	a := img.Advice[0]
	if a.What != "Go toolchain" || img.Runs == nil || !img.Runs.Static || !img.Runs.Go ||
		!strings.Contains(a.Fix, "COPY --from=build only what runs") || !strings.Contains(a.Fix, img.Runs.Path+", a static binary, FROM scratch") ||
		!strings.Contains(a.Fix, "-ldflags='-s -w'") {
		t.Fatalf("first advice %+v, runs %+v: want the Go toolchain, and a static Go binary to copy FROM scratch, stripped", a, img.Runs)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var stage, final []string
	for _, l := range strings.Split(string(src), "\n") {
		switch keyword, _, _ := strings.Cut(l, " "); keyword {
		case "FROM":
			stage = append(stage, l+" AS build")
		case "RUN":
			if strings.Contains(l, "go install") || strings.Contains(l, "go build") {
				l = strings.Replace(strings.Replace(l, "go install", "go install -ldflags='-s -w'", 1), "go build", "go build -ldflags='-s -w'", 1)
			}
			stage = append(stage, l)
		case "EXPOSE", "CMD", "ENTRYPOINT", "USER":
			final = append(final, l)
		default:
			stage = append(stage, l)
		}
	}
	lines := append(stage, "FROM scratch", "COPY --from=build "+img.Runs.Path+" "+img.Runs.Path, "ENV PATH="+filepath.Dir(img.Runs.Path))
	fixed := strings.Join(append(lines, final...), "\n") + "\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	const tag = "imgcompare-test/toolchain:after"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	dockertest.Docker(t, "build", "-q", "--network", "host", "--build-arg", "GO_IMAGE="+args["GO_IMAGE"],
		"-f", filepath.Join(dir, "Dockerfile"), "-t", tag, dockertest.RepoRoot())
	got, project := imageSize(t, tag), imageSize(t, dockertest.MultiStage)
	predicted := img.Runs.StrippedBytes
	t.Logf("the Dockerfile after the advice:\n%s\nsingle-stage %d bytes; multi-stage predicted %d, built from the advice %d (%+.3f%%), the project's %d (%+.3f%%)",
		fixed, img.Size.Uncompressed, predicted, got, 100*float64(got-predicted)/float64(predicted), project, 100*float64(project-predicted)/float64(predicted))
	if d := got - predicted; d < -predicted/100 || d > predicted/100 {
		t.Errorf("the multi-stage image built from the advice holds %d bytes, the advice predicted %d", got, predicted)
	}
	if d := project - predicted; d < -predicted/10 || d > predicted/10 {
		t.Errorf("the project's multi-stage image holds %d bytes, the advice predicted %d", project, predicted)
	}
	// What the final stage copied runs: the server answers its health
	// check from inside the image.
	cmd := exec.Command("docker", "run", "--rm", "--network", "none", tag, "echo_app", "-version")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the image built from the advice does not run: %v\n%s", err, out)
	}
}

// debianBase is the project's Debian tree (debianRootfs) as an image, as
// Debian's own images ship it: apt's lists and downloaded packages left
// out. Imported once per tree, and kept for the tests that build on it.
func debianBase(t *testing.T) string {
	t.Helper()
	rootfs := debianRootfs(t)
	tag := "imgcompare-test/debian-base:" + strings.TrimSuffix(filepath.Base(rootfs), ".tar")
	if _, err := dockertest.DockerErr("image", "inspect", tag); err == nil {
		return tag
	}
	in, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command("docker", "import", "-", tag)
	pipe, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr, tw := tar.NewReader(in), tar.NewWriter(pipe)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeDir && (strings.HasPrefix(name, "var/lib/apt/lists/") || strings.HasPrefix(name, "var/cache/apt/")) {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	pipe.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker import: %v: %s", err, stderr.String())
	}
	return tag
}

// runIn runs a command of this machine in dir, and returns its output.
func runIn(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// aptRepository makes a Debian repository in dir that apt can take as
// copy:dir ./: this machine's own index of Debian's packages (its apt
// lists, as Debian serves them), and packages fetched from Debian's
// mirror with apt-get download, each at the path the index gives it.
func aptRepository(t *testing.T, dir string, packages ...string) {
	t.Helper()
	lists, err := filepath.Glob("/var/lib/apt/lists/*_Packages*")
	if err != nil || len(lists) == 0 {
		dockertest.Missing(t, "no Debian package index in /var/lib/apt/lists", "apt's lists", "apt-get update")
	}
	index, err := os.Create(filepath.Join(dir, "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	defer index.Close()
	for _, l := range lists {
		if _, err := io.WriteString(index, runIn(t, dir, "/usr/lib/apt/apt-helper", "cat-file", l)+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	download := t.TempDir()
	runIn(t, download, "apt-get", append([]string{"download", "-q"}, packages...)...)
	debs, _ := filepath.Glob(filepath.Join(download, "*.deb"))
	if len(debs) != len(packages) {
		t.Fatalf("apt-get download %v gave %v", packages, debs)
	}
	for _, deb := range debs {
		fields := strings.Fields(runIn(t, dir, "dpkg-deb", "--showformat=${Package} ${Version}", "--show", deb))
		for _, l := range strings.Split(runIn(t, dir, "apt-cache", "show", fields[0]+"="+fields[1]), "\n") {
			if name, ok := strings.CutPrefix(l, "Filename: "); ok {
				to := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(deb)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(to, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// buildTimeFiles are the files of a Debian tree that an apt-get install
// writes differently each time it runs.
var buildTimeFiles = map[string]bool{
	"/var/log/dpkg.log": true, "/var/log/alternatives.log": true, "/var/log/apt/history.log": true, "/var/log/apt/term.log": true,
	"/var/log/apt/eipp.log.xz": true, "/var/cache/ldconfig/aux-cache": true,
}

// TestAptProvenByRebuild installs packages with apt on the Debian base
// and leaves apt's lists and downloaded packages behind, and applies the
// advice about each: rm -rf /var/lib/apt/lists/* and apt-get clean in the
// same RUN.
func TestAptProvenByRebuild(t *testing.T) {
	dockertest.BuildImages(t)
	base := debianBase(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\n" +
		"RUN --mount=type=bind,source=repo,target=/repo echo 'deb [trusted=yes] copy:/repo ./' > /etc/apt/sources.list && " +
		"apt-get update -q && apt-get install -q -y --no-install-recommends libicu72 less\n" +
		"CMD [\"less\", \"--version\"]\n"})
	if err := os.Mkdir(filepath.Join(dir, "repo"), 0o755); err != nil {
		t.Fatal(err)
	}
	aptRepository(t, filepath.Join(dir, "repo"), "libicu72", "less")
	fixCase{dir: dir, fix: func(img adviceImage, lines []string) ([]string, int64) {
		lists, archives := img.find(t, "apt lists"), img.find(t, "apt archives")
		if !strings.Contains(lists.Fix, "rm -rf /var/lib/apt/lists/*") || !strings.Contains(archives.Fix, "apt-get clean") || lists.Layer != archives.Layer {
			t.Fatalf("advice %+v and %+v: want rm -rf /var/lib/apt/lists/* and apt-get clean in the RUN", lists, archives)
		}
		t.Logf("apt lists %d bytes, apt archives %d", lists.Bytes, archives.Bytes)
		at := img.line(t, lists.Layer)
		lines[at-1] += " && rm -rf /var/lib/apt/lists/* && apt-get clean"
		return lines, lists.Bytes + archives.Bytes
	}, gone: func(p, change string) bool {
		// apt's and dpkg's logs record the time they ran, ldconfig's
		// aux-cache the inode numbers and change times of the
		// libraries: they differ from build to build.
		return change == "removed" && (strings.HasPrefix(p, "/var/lib/apt/lists/") || strings.HasPrefix(p, "/var/cache/apt/")) ||
			change == "changed" && buildTimeFiles[p]
	}}.prove(t, "apt")
}

// TestNpmProvenByRebuild installs an application's packages with npm ci
// on the Debian base with this machine's Node.js and npm, leaving npm's
// cache behind, and applies the advice: npm cache clean --force in the
// same RUN. The packages come from the npm registry during the test's
// setup, not during the build: npm install here fills a cache that the
// build puts where npm keeps it, and npm ci --offline installs from it
// as from the registry.
func TestNpmProvenByRebuild(t *testing.T) {
	dockertest.BuildImages(t)
	base := debianBase(t)
	node, err := exec.LookPath("node")
	if err != nil {
		dockertest.Missing(t, "node is not installed", "Node.js and npm", "apt-get install nodejs npm")
	}
	npm := filepath.Join(filepath.Dir(node), "..", "lib", "node_modules", "npm")
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + base + "\n" +
			"COPY usr /usr/local/\n" +
			"ENV npm_config_logs_max=0 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false\n" +
			"WORKDIR /app\n" +
			"COPY package.json package-lock.json ./\n" +
			"RUN --mount=type=bind,source=npm-cache,target=/seed mkdir -p /root/.npm && cp -a /seed/. /root/.npm/ && npm ci --offline --omit=dev\n" +
			"CMD [\"node\", \"-e\", \"require('express')\"]\n",
		"package.json": `{"name": "app", "version": "1.0.0", "private": true, "dependencies": {"express": "4.21.2", "typescript": "5.7.3"}}` + "\n",
	})
	// The lockfile names where each package came from (a machine's npm
	// may be set to leave that out), as npm ci --offline needs.
	runIn(t, dir, "npm", "install", "--cache", filepath.Join(dir, "npm-cache"), "--no-audit", "--no-fund", "--ignore-scripts",
		"--omit-lockfile-registry-resolved=false", "--logs-max=0")
	if err := os.RemoveAll(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "usr", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "cp", "-a", node, filepath.Join(dir, "usr", "bin", "node"))
	if err := os.MkdirAll(filepath.Join(dir, "usr", "lib", "node_modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, "cp", "-a", npm, filepath.Join(dir, "usr", "lib", "node_modules", "npm"))
	if err := os.Symlink("../lib/node_modules/npm/bin/npm-cli.js", filepath.Join(dir, "usr", "bin", "npm")); err != nil {
		t.Fatal(err)
	}
	fixCase{dir: dir, fix: func(img adviceImage, lines []string) ([]string, int64) {
		cache := img.find(t, "npm cache")
		if !strings.Contains(cache.Fix, "npm cache clean --force in the same RUN") {
			t.Fatalf("advice %+v: want npm cache clean --force in the same RUN", cache)
		}
		at := img.line(t, cache.Layer)
		lines[at-1] += " && npm cache clean --force"
		return lines, cache.Bytes
	}, gone: func(p, change string) bool {
		return change == "removed" && strings.HasPrefix(p, "/root/.npm/")
	}}.prove(t, "npm")
}
