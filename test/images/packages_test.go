package images

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// packagesImage is what the packages tests read of imgcompare's JSON.
type packagesImage struct {
	Packages struct {
		Bytes      int64
		Count      int
		Attributed int64 `json:"attributed_bytes"`
		Unowned    int64 `json:"unowned_bytes"`
		List       []struct {
			Kind, Name, Version string
			Bytes               int64
			Files, Layer        int
			Modules             []string
		}
		Dirs []struct {
			Dir   string
			Bytes int64
		} `json:"unowned"`
	}
}

// packagesOf runs imgcompare on image with every package listed.
func packagesOf(t *testing.T, image string) packagesImage {
	t.Helper()
	stdout, stderr, code := imgcompare(t, "-o", "json", "--packages", "1000000", image)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", image, code, stderr)
	}
	img := parseJSON[struct{ Images []packagesImage }](t, stdout).Images[0]
	if len(img.Packages.List) != img.Packages.Count {
		t.Fatalf("%s: %d packages listed of %d", image, len(img.Packages.List), img.Packages.Count)
	}
	t.Logf("%s: %d packages own %d of %d bytes (%.2f%%), %d unowned", image, img.Packages.Count, img.Packages.Attributed,
		img.Packages.Bytes, 100*float64(img.Packages.Attributed)/float64(img.Packages.Bytes), img.Packages.Unowned)
	return img
}

// dpkgFiles lists, inside a container of image, what dpkg-query -L says
// each installed package owns that is a file or a symlink: package,
// inode and size (lstat's: a symlink's is its target's length). A path
// the package lists others under is one of its directories, even where
// the tree has a link there (/bin).
const dpkgFiles = `dpkg-query -W -f '${binary:Package}\n' | while read -r p; do
	dpkg-query -L "$p" | awk '{p[NR] = $0; d = $0; sub(/\/[^\/]*$/, "", d); dir[d] = 1} END {for (i = 1; i <= NR; i++) if (!(p[i] in dir)) print p[i]}' | while read -r f; do
		if [ -L "$f" ] || { [ -f "$f" ] && ! [ -d "$f" ]; }; then printf '%s\n' "$f"; fi
	done | xargs -r -d '\n' stat -c "${p%%:*} %i %s"
done`

// TestPackagesDebian reads the project's Debian base and checks each
// package's bytes against dpkg's own view inside a container of the
// image: the files dpkg-query -L lists for it, as stat sees them. A file
// two packages list (a directory listed as a file, a link) may count for
// either; every other file counts for its package, exactly.
func TestPackagesDebian(t *testing.T) {
	dockertest.BuildImages(t)
	base := debianBase(t)
	img := packagesOf(t, "docker-daemon:"+base)
	out := dockertest.Docker(t, "run", "--rm", "--network", "none", "--entrypoint", "bash", base, "-c", dpkgFiles)
	owners := map[string][]string{}
	sizes := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line) // package inode size
		if len(f) != 3 {
			t.Fatalf("dpkg-query and stat printed %q", line)
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		sizes[f[1]] = n
		if o := owners[f[1]]; len(o) == 0 || o[len(o)-1] != f[0] {
			owners[f[1]] = append(o, f[0])
		}
	}
	exclusive, shared := map[string]int64{}, map[string]int64{}
	var total int64
	sharedFiles := 0
	for inode, o := range owners {
		total += sizes[inode]
		if len(o) == 1 {
			exclusive[o[0]] += sizes[inode]
			continue
		}
		sharedFiles++
		for _, p := range o {
			shared[p] += sizes[inode]
		}
	}
	got := map[string]int64{}
	for _, p := range img.Packages.List {
		if p.Kind != "deb" {
			t.Errorf("a %s package in the Debian tree: %+v", p.Kind, p)
		}
		got[p.Name] = p.Bytes
	}
	for name, b := range exclusive {
		if got[name] < b || got[name] > b+shared[name] {
			t.Errorf("%s: %d bytes; dpkg lists %d of its own and %d shared", name, got[name], b, shared[name])
		}
	}
	if img.Packages.Attributed != total {
		t.Errorf("packages own %d bytes; dpkg lists %d", img.Packages.Attributed, total)
	}
	t.Logf("dpkg lists %d bytes of %d packages in %d files, %d of them in two packages or more", total, len(exclusive), len(owners), sharedFiles)
	if len(got) < 100 {
		t.Errorf("%d packages: the tree has gcc, python and the minbase", len(got))
	}
}

// TestPackagesNpm installs express, typescript and esbuild from the npm
// registry on this machine (esbuild with its native binary, a Go
// program, in @esbuild/linux-x64), copies node_modules into an image, and
// checks the packages against npm ls and each package's bytes against
// find's count of its directory, nested node_modules left out; only npm's
// hidden lockfile and its .bin links are unowned.
func TestPackagesNpm(t *testing.T) {
	dockertest.BuildImages(t)
	if _, err := exec.LookPath("npm"); err != nil {
		dockertest.Missing(t, "npm is not installed", "Node.js and npm", "apt-get install nodejs npm")
	}
	dir := writeContext(t, map[string]string{
		"package.json": `{"name": "app", "version": "1.0.0", "private": true, "dependencies": {"express": "4.21.2", "typescript": "5.7.3", "esbuild": "0.24.2"}}` + "\n",
		"Dockerfile":   "FROM scratch\nCOPY node_modules /app/node_modules\n",
	})
	runIn(t, dir, "npm", "install", "--cache", filepath.Join(t.TempDir(), "cache"), "--no-audit", "--no-fund", "--ignore-scripts", "--logs-max=0")
	const tag = "imgcompare-test/npm-packages:latest"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	dockertest.Docker(t, "build", "-q", "--network", "none", "-t", tag, dir)
	img := packagesOf(t, "docker-daemon:"+tag)

	// npm's own list of what it installed: name@version, once each.
	want := map[string]bool{}
	for _, line := range strings.Split(runIn(t, dir, "npm", "ls", "--all", "--parseable", "--long"), "\n")[1:] {
		// PATH:NAME@VERSION[:…]
		f := strings.Split(line, ":")
		if len(f) >= 2 && f[1] != "" {
			want[f[1]] = true
		}
	}
	got := map[string]int64{}
	for _, p := range img.Packages.List {
		got[p.Name+"@"+p.Version] += p.Bytes
		if p.Kind != "npm" {
			t.Errorf("not an npm package: %+v", p)
		}
	}
	for nv := range want {
		if _, ok := got[nv]; !ok {
			t.Errorf("npm ls lists %s, imgcompare does not", nv)
		}
	}
	if len(got) != len(want) {
		t.Errorf("imgcompare finds %d packages, npm ls %d", len(got), len(want))
	}
	// Each package's bytes, as find counts its directory.
	manifests, err := filepath.Glob(filepath.Join(dir, "node_modules", "*", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	scoped, _ := filepath.Glob(filepath.Join(dir, "node_modules", "@*", "*", "package.json"))
	checked := 0
	for _, m := range append(manifests, scoped...) {
		pkgDir := filepath.Dir(m)
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		manifest := parseJSON[struct{ Name, Version string }](t, string(b))
		sum := runIn(t, pkgDir, "sh", "-c", `find . -path './node_modules' -prune -o \( -type f -o -type l \) -printf '%s\n' | awk '{s += $1} END {print s + 0}'`)
		found, _ := strconv.ParseInt(strings.TrimSpace(sum), 10, 64)
		nv := manifest.Name + "@" + manifest.Version
		if got[nv] != found {
			t.Errorf("%s: %d bytes; find counts %d", nv, got[nv], found)
		}
		checked++
	}
	// npm's own hidden lockfile and its .bin links are no package's.
	for _, d := range img.Packages.Dirs {
		if d.Dir != "/app/node_modules" && d.Dir != "/app/node_modules/.bin" {
			t.Errorf("unowned %d bytes in %s", d.Bytes, d.Dir)
		}
	}
	esbuild := false
	for _, p := range img.Packages.List {
		esbuild = esbuild || p.Name == "@esbuild/linux-x64" && p.Bytes > 5<<20
	}
	if !esbuild {
		t.Errorf("@esbuild/linux-x64 does not own its native binary: %+v", img.Packages.List)
	}
	t.Logf("%d packages of the top level checked against find", checked)
}

// TestPackagesGo reads the project's Go binaries in their images: the
// multi-stage image is its binary alone, owned by echo_app's main
// package; imgcompare's image names the modules go version -m lists.
func TestPackagesGo(t *testing.T) {
	dockertest.BuildImages(t)
	img := packagesOf(t, "docker-daemon:"+dockertest.MultiStage)
	if len(img.Packages.List) != 1 || img.Packages.Unowned != 0 {
		t.Fatalf("the multi-stage image: %+v", img.Packages)
	}
	p := img.Packages.List[0]
	if p.Kind != "go" || p.Name != "github.com/rastringer/docker_multistage/cmd/echo_app" || p.Bytes != img.Packages.Bytes || len(p.Modules) != 0 {
		t.Errorf("the multi-stage image's package %+v: want echo_app's main package, all its bytes, no module", p)
	}

	// imgcompare itself, built here: the modules go version -m lists.
	bin := buildImgcompare(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY imgcompare /imgcompare\n"})
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "imgcompare"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	const tag = "imgcompare-test/go-packages:latest"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	dockertest.Docker(t, "build", "-q", "--network", "none", "-t", tag, dir)
	img = packagesOf(t, "docker-daemon:"+tag)
	var want []string
	for _, line := range strings.Split(runIn(t, dir, "go", "version", "-m", bin), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "dep" {
			want = append(want, f[1]+"@"+f[2])
		}
	}
	if len(img.Packages.List) != 1 || fmt.Sprint(img.Packages.List[0].Modules) != fmt.Sprint(want) {
		t.Errorf("imgcompare's modules %+v; go version -m lists %v", img.Packages.List, want)
	}
}

// TestDownload pushes two images to a real registry, the second the
// first with one more layer, and checks what imgcompare diff says a host
// downloads between them, from the manifests alone: the extra layer's
// blob size as the registry's manifest lists it (skopeo), nothing the
// other way, nothing between an image and itself. From the engine, where
// layers are compressed here, the extra layer's estimated size.
func TestDownload(t *testing.T) {
	dockertest.BuildImages(t)
	reg := requireRegistries(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile.a": "FROM " + rootImage + "\nCOPY one /one\n",
		"Dockerfile.b": "FROM " + rootImage + "\nCOPY one /one\nCOPY two /two\n",
	})
	writeFiller(t, filepath.Join(dir, "one"), 1<<20)
	writeFiller(t, filepath.Join(dir, "two"), 2<<20)
	const a, b = "imgcompare-test/download:a", "imgcompare-test/download:b"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", a, b) })
	dockertest.Docker(t, "build", "-q", "--network", "none", "-f", filepath.Join(dir, "Dockerfile.a"), "-t", a, dir)
	dockertest.Docker(t, "build", "-q", "--network", "none", "-f", filepath.Join(dir, "Dockerfile.b"), "-t", b, dir)
	refA, refB := push(t, a, reg.open, "download:a"), push(t, b, reg.open, "download:b")
	manifest, _ := registryManifest[struct{ Layers []struct{ Size int64 } }](t, refB)
	extra := manifest.Layers[len(manifest.Layers)-1].Size

	type download struct {
		Identical bool
		Download  struct {
			BeforeToAfter int64 `json:"before_to_after"`
			AfterToBefore int64 `json:"after_to_before"`
		}
	}
	for _, c := range []struct {
		from, to         string
		want, wantBack   int64
		identical, exact bool
	}{
		{"docker://" + refA, "docker://" + refB, extra, 0, false, true},
		{"docker://" + refB, "docker://" + refB, 0, 0, true, true},
		{"docker-daemon:" + a, "docker-daemon:" + b, 0, 0, false, false},
	} {
		args := []string{"diff", "-o", "json", c.from, c.to}
		if c.exact {
			args = append(args[:1], append([]string{"--manifest-only"}, args[1:]...)...)
		}
		stdout, stderr, code := imgcompare(t, args...)
		doc := parseJSON[download](t, stdout)
		d := doc.Download
		switch {
		case code > 1 || doc.Identical != c.identical || (code == 0) != c.identical:
			t.Errorf("%v: exit %d, identical %v: %s", args, code, doc.Identical, stderr)
		case c.exact && (d.BeforeToAfter != c.want || d.AfterToBefore != c.wantBack):
			t.Errorf("%v: download %+v, want %d and %d (the registry's blob)", args, d, c.want, c.wantBack)
		case !c.exact && (d.BeforeToAfter <= 0 || d.AfterToBefore != 0):
			t.Errorf("%v: download %+v, want the extra layer's estimate and nothing back", args, d)
		}
		t.Logf("%s → %s: %+v", c.from, c.to, d)
	}
}

// TestPackageDiffDebian installs one package (less, fetched from Debian's
// mirror with apt-get download) with dpkg -i on the Debian base, and
// checks imgcompare diff: one package added, with the bytes dpkg lists
// for it in a container of the image; the package changes and the
// unowned ones add up to the change of the final filesystem's bytes, as
// the two images' own reports give them.
func TestPackageDiffDebian(t *testing.T) {
	dockertest.BuildImages(t)
	base := debianBase(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN --mount=type=bind,source=debs,target=/debs dpkg -i /debs/less_*.deb\n"})
	if err := os.Mkdir(filepath.Join(dir, "debs"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(t, filepath.Join(dir, "debs"), "apt-get", "download", "-q", "less")
	const tag = "imgcompare-test/debian-less:latest"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
	dockertest.Docker(t, "build", "-q", "--network", "none", "-t", tag, dir)

	stdout, stderr, code := imgcompare(t, "diff", "-o", "json", "docker-daemon:"+base, "docker-daemon:"+tag)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	doc := parseJSON[struct {
		Packages []struct {
			Kind, Name, Change string
			After              struct{ Version string }
			Delta              int64 `json:"size_delta"`
		}
		PackagesDelta int64 `json:"packages_delta"`
		UnownedDelta  int64 `json:"unowned_delta"`
	}](t, stdout)
	out := dockertest.Docker(t, "run", "--rm", "--network", "none", "--entrypoint", "bash", tag, "-c",
		`dpkg-query -L less | while read -r f; do if [ -L "$f" ] || { [ -f "$f" ] && ! [ -d "$f" ]; }; then stat -c '%i %s' "$f"; fi; done | sort -u | awk '{s += $2} END {print s}'`)
	listed, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if len(doc.Packages) != 1 || doc.Packages[0].Name != "less" || doc.Packages[0].Change != "added" || doc.Packages[0].Delta != listed || doc.PackagesDelta != listed {
		t.Errorf("package changes %+v (%d), want less added with the %d bytes dpkg lists", doc.Packages, doc.PackagesDelta, listed)
	}
	before, after := packagesOf(t, "docker-daemon:"+base), packagesOf(t, "docker-daemon:"+tag)
	if doc.PackagesDelta+doc.UnownedDelta != after.Packages.Bytes-before.Packages.Bytes {
		t.Errorf("packages %d + unowned %d, want the final filesystems' change %d", doc.PackagesDelta, doc.UnownedDelta, after.Packages.Bytes-before.Packages.Bytes)
	}
	t.Logf("less %s added: %d bytes; unowned %+d", doc.Packages[0].After.Version, listed, doc.UnownedDelta)
}

// TestGrowthOfAnnotatedBase: app:1 and app:2 are the same Dockerfile on
// base:1 and base:2 (one layer more), each manifest naming its base in
// the annotations the OCI image spec defines; --max-growth reads the
// bases from the registry and says the base grew, the app's own layers
// did not.
func TestGrowthOfAnnotatedBase(t *testing.T) {
	dockertest.BuildImages(t)
	reg := requireRegistries(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile.base2": "FROM " + rootImage + "\nCOPY lib /usr/lib/libbig.so\n",
		"Dockerfile.app":   "ARG BASE\nFROM ${BASE}\nCOPY app /app\n",
	})
	writeFiller(t, filepath.Join(dir, "lib"), 1<<20)
	writeFiller(t, filepath.Join(dir, "app"), 100<<10)
	const base2 = "imgcompare-test/growth-base:2"
	t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", base2) })
	dockertest.Docker(t, "build", "-q", "--network", "none", "-f", filepath.Join(dir, "Dockerfile.base2"), "-t", base2, dir)
	var apps [2]string
	for i, base := range []string{rootImage, base2} {
		pushed := push(t, base, reg.open, fmt.Sprintf("growth-base:%d", i+1))
		_, raw := registryManifest[struct{}](t, pushed)
		digest := fmt.Sprintf("sha256:%x", sha256.Sum256(raw))
		tag := fmt.Sprintf("imgcompare-test/growth-app:%d", i+1)
		t.Cleanup(func() { dockertest.DockerErr("image", "rm", "-f", tag) })
		dockertest.Docker(t, "build", "-q", "--network", "none", "--build-arg", "BASE="+base, "-f", filepath.Join(dir, "Dockerfile.app"), "-t", tag, dir)
		app := push(t, tag, reg.open, fmt.Sprintf("growth-app:%d", i+1))
		apps[i] = annotate(t, app, map[string]string{"org.opencontainers.image.base.name": pushed, "org.opencontainers.image.base.digest": digest})
	}
	stdout, stderr, code := imgcompare(t, "-o", "json", "--max-growth", "100kB", "docker://"+apps[0], "docker://"+apps[1])
	want := "the base image (layers 1-2, annotated " + reg.open + "/growth-base:2) +1.05 MB, the image's own layers +0 B"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	doc := parseJSON[struct {
		Images []struct {
			Base struct {
				Layers int
				From   string
			}
		}
	}](t, stdout)
	if doc.Images[0].Base.Layers != 1 || doc.Images[1].Base.Layers != 2 {
		t.Errorf("base layers %+v, want 1 and 2", doc.Images)
	}
	t.Log(stderr)
}

// annotate writes ref again, its manifest with annotations, as
// ref-annotated, and returns that reference.
func annotate(t *testing.T, ref string, annotations map[string]string) string {
	t.Helper()
	src, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := name.ParseReference(ref + "-annotated")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, mutate.Annotations(img, annotations).(v1.Image)); err != nil {
		t.Fatal(err)
	}
	return dst.String()
}
