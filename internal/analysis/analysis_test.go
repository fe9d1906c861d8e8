package analysis

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

func analyze(t *testing.T, img v1.Image) *Image {
	t.Helper()
	a, err := Analyze(context.Background(), img, Options{Largest: 5, Compression: Computed})
	if err != nil {
		t.Fatal(err)
	}
	checkHidden(t, a)
	return a
}

// checkHidden checks the partition every image must keep: the layers'
// bytes are the final filesystem's and the hidden ones, each cause's sum
// and each layer's adding up to the whole.
func checkHidden(t *testing.T, a *Image) {
	t.Helper()
	h := a.Hidden
	var byCause, byLayer int64
	for _, b := range h.ByCause {
		byCause += b
	}
	for _, l := range a.Layers {
		byLayer += l.Hidden
	}
	if a.Size-h.Visible != h.Bytes || byCause != h.Bytes || byLayer != h.Bytes {
		t.Errorf("size %d - visible %d = %d, hidden %d (by cause %d, by layer %d)", a.Size, h.Visible, a.Size-h.Visible, h.Bytes, byCause, byLayer)
	}
	// And the packages': package bytes and unowned ones are the final
	// filesystem's.
	p := a.Packages
	var packages int64
	for _, pkg := range p.all {
		packages += pkg.Bytes
	}
	if p.Bytes != h.Visible || packages != p.Attributed || p.Attributed+p.UnownedBytes != p.Bytes || len(p.all) != p.Count {
		t.Errorf("packages %d (%d listed, %d of them) + unowned %d, want visible %d", p.Attributed, packages, p.Count, p.UnownedBytes, h.Visible)
	}
}

func TestSizesLayersAndFiles(t *testing.T) {
	img := it.Image(t, v1.Config{User: "65532"},
		it.By("ADD base", it.Layer(t, it.Dir("bin"), it.File("bin/busybox", 100), it.Symlink("bin/sh", "busybox"), it.File("etc/passwd", 20))),
		it.By("COPY app", it.Layer(t, it.File("app", 1000))),
	)
	a := analyze(t, img)
	// Files plus symlink targets ("busybox" is 7 bytes), as Docker counts.
	if want := int64(100 + 7 + 20 + 1000); a.Size != want {
		t.Errorf("Size = %d, want %d", a.Size, want)
	}
	if a.Files != 3 {
		t.Errorf("Files = %d, want 3", a.Files)
	}
	if len(a.Layers) != 2 || a.Layers[0].CreatedBy != "ADD base" || a.Layers[1].CreatedBy != "COPY app" {
		t.Fatalf("Layers = %+v", a.Layers)
	}
	if a.Layers[0].Size != 127 || a.Layers[0].Files != 2 || a.Layers[1].Size != 1000 || a.Layers[1].Files != 1 {
		t.Errorf("layer sizes and files = %+v", a.Layers)
	}
	want := []File{{"/app", 1000}, {"/bin/busybox", 100}, {"/etc/passwd", 20}}
	if len(a.Largest) != len(want) {
		t.Fatalf("Largest = %v, want %v", a.Largest, want)
	}
	for i := range want {
		if a.Largest[i] != want[i] {
			t.Errorf("Largest[%d] = %v, want %v", i, a.Largest[i], want[i])
		}
	}
	if a.OS != "linux" || a.Architecture != "amd64" || a.Root || a.User != "65532" {
		t.Errorf("config: %s/%s user %q root %v", a.OS, a.Architecture, a.User, a.Root)
	}
}

func TestLargestIsCut(t *testing.T) {
	img := it.Image(t, v1.Config{}, it.By("big", it.Layer(t,
		it.File("a", 1), it.File("b", 2), it.File("large", 50<<20), it.File("c", 3))))
	a, err := Analyze(context.Background(), img, Options{Largest: 2, Compression: Computed})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Largest) != 2 || a.Largest[0].Path != "/large" || a.Largest[0].Size != 50<<20 || a.Largest[1].Path != "/c" {
		t.Errorf("Largest = %v, want /large then /c", a.Largest)
	}
	if a.Files != 4 {
		t.Errorf("Files = %d, want 4", a.Files)
	}
}

func TestCompressedSize(t *testing.T) {
	content := it.TarBytes(t, it.File("data", 1<<20))
	img := it.Image(t, v1.Config{}, it.By("data", it.LayerFromBytes(t, content)))

	// Computed: gzip at the default level of the whole tar stream.
	var want bytes.Buffer
	gz := gzip.NewWriter(&want)
	gz.Write(content)
	gz.Close()
	a := analyze(t, img)
	if a.CompressedSize != int64(want.Len()) || a.Layers[0].CompressedSize != int64(want.Len()) {
		t.Errorf("computed compressed size = %d, want %d", a.CompressedSize, want.Len())
	}
	if a.Compression != Computed {
		t.Errorf("Compression = %q", a.Compression)
	}

	// Stored: the sizes the source reports for its compressed blobs.
	stored, err := Analyze(context.Background(), img, Options{Compression: Stored})
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	blob, _ := layers[0].Size()
	if stored.CompressedSize != blob {
		t.Errorf("stored compressed size = %d, want the blob's %d", stored.CompressedSize, blob)
	}
}

// TestHiddenByCause hides bytes of the first layer each way a later one
// can: removed by a whiteout, rewritten unchanged with another mode (RUN
// chmod), replaced with other content, removed with the directory a file
// replaces, hidden by an opaque directory; a name listed twice within a
// layer hides nothing.
func TestHiddenByCause(t *testing.T) {
	content := bytes.Repeat([]byte("alpacas\n"), 250) // 2,000 bytes
	img := it.Image(t, v1.Config{},
		it.By("COPY . /", it.Layer(t,
			it.File("a", 1000), it.Entry{Name: "b", Content: content}, it.File("c", 500),
			it.Dir("d"), it.File("d/x", 300), it.File("d/y", 400),
			it.Dir("o"), it.File("o/z", 70), it.Symlink("s", "/target"),
		)),
		it.By("RUN changes", it.Layer(t,
			it.Whiteout("", "a"),
			it.Entry{Name: "b", Content: content, Mode: 0o600},
			it.Entry{Name: "c", Content: bytes.Repeat([]byte("x"), 500)},
			it.File("d", 10),
			it.Dir("o"), it.Opaque("o"), it.File("o/new", 5),
			it.File("twice", 40), it.File("twice", 50),
		)),
	)
	a := analyze(t, img)
	want := map[Cause]int64{RemovedLater: 1000 + 300 + 400 + 70, RewrittenUnchanged: 2000, Replaced: 500}
	for _, c := range Causes {
		if a.Hidden.ByCause[c] != want[c] {
			t.Errorf("%s: %d bytes, want %d", c, a.Hidden.ByCause[c], want[c])
		}
	}
	if a.Layers[0].Hidden != a.Hidden.Bytes || a.Layers[1].Hidden != 0 || a.Hidden.Count != 6 {
		t.Errorf("layers %+v, %d paths", a.Layers, a.Hidden.Count)
	}
	if p := a.Hidden.Paths[0]; p != (HiddenPath{Path: "/b", Bytes: 2000, Cause: RewrittenUnchanged, AddedBy: 1, HiddenBy: 2}) {
		t.Errorf("largest hidden path %+v", p)
	}
	// The advice: a line per cause and pair of layers, every path
	// counted though Hidden.Paths keeps 5, the fix by the instructions.
	var got []string
	for _, ad := range a.Advice {
		got = append(got, fmt.Sprintf("%d %s %d>%d %d %s | %s", ad.Bytes, ad.What, ad.Layer, ad.HiddenBy, ad.Count, strings.Join(ad.Paths, ","), ad.Fix[:strings.Index(ad.Fix, " ")]))
	}
	wantAdvice := []string{
		"2000 rewritten unchanged 1>2 1 /b | set",
		"1770 removed later 1>2 4 /a,/d/y,/d/x | do",
		"500 replaced 1>2 1 /c | write",
	}
	if strings.Join(got, "\n") != strings.Join(wantAdvice, "\n") {
		t.Errorf("advice:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantAdvice, "\n"))
	}
	if fix := a.Advice[0].Fix; !strings.Contains(fix, "COPY --chown=UID:GID") {
		t.Errorf("the COPY's files chown'd later: %q", fix)
	}
}

// TestReclaimable finds what an image need not ship, by kind, with the
// layer that wrote it: package indexes and caches, temporary files, a Go
// toolchain, a C compiler, headers and static libraries.
func TestReclaimable(t *testing.T) {
	exe, file := it.Executable, it.File
	img := it.Image(t, v1.Config{},
		it.By("FROM golang", it.Layer(t,
			exe("usr/local/go/bin/go", 1000), exe("usr/local/go/pkg/tool/linux_amd64/compile", 500), file("usr/local/go/src/fmt/print.go", 20),
			exe("usr/bin/x86_64-linux-gnu-gcc-12", 40), it.Symlink("usr/bin/gcc-12", "x86_64-linux-gnu-gcc-12"),
			file("usr/lib/gcc/x86_64-linux-gnu/12/cc1", 700), file("usr/include/stdio.h", 5),
			file("usr/lib/x86_64-linux-gnu/libc.a", 300), file("usr/lib/x86_64-linux-gnu/libc.so.6", 900),
		)),
		it.By("RUN apt-get install", it.Layer(t,
			file("var/lib/apt/lists/deb.debian.org_Packages", 100), file("var/cache/apt/archives/curl.deb", 200),
			file("root/.cache/pip/http/a", 50), file("root/.npm/_cacache/index", 30), file("tmp/build.log", 10),
			file("root/go/pkg/mod/cache/download/x.zip", 60), file("root/.cache/go-build/00/a", 70), file("home/app/.cache/other", 8),
			file("app", 4000),
		)),
	)
	a := analyze(t, img)
	var got []string
	for _, r := range a.Reclaimable {
		got = append(got, fmt.Sprintf("%s %s %d %d %d", r.Kind, r.Path, r.Bytes, r.Files, r.Layer))
	}
	want := []string{
		"Go toolchain /usr/local/go 1520 3 1",
		"C toolchain /usr/lib/gcc 700 1 1",
		"static libraries /usr/lib/x86_64-linux-gnu 300 1 1",
		"apt archives /var/cache/apt 200 1 2",
		"apt lists /var/lib/apt/lists 100 1 2",
		"Go build cache /root/.cache/go-build 70 1 2",
		"C toolchain /usr/bin 63 2 1",
		"Go module cache /root/go/pkg/mod 60 1 2",
		"pip cache /root/.cache/pip 50 1 2",
		"npm cache /root/.npm 30 1 2",
		"temporary files /tmp 10 1 2",
		"user cache /home/app/.cache 8 1 2",
		"headers /usr/include 5 1 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reclaimable:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBlobListedTwice: a layer listed twice is one blob, counted once in
// the compressed size, computed or stored, and at each place in the size.
func TestBlobListedTwice(t *testing.T) {
	data := it.LayerFromBytes(t, it.TarBytes(t, it.File("data", 1<<16)))
	other := it.Layer(t, it.File("data", 10))
	img := it.Image(t, v1.Config{}, it.By("COPY data", data), it.By("COPY other", other), it.By("COPY data", data))
	for _, c := range []Compression{Computed, Stored} {
		a, err := Analyze(context.Background(), img, Options{Compression: c})
		if err != nil {
			t.Fatal(err)
		}
		l := a.Layers
		if a.CompressedSize != l[0].CompressedSize+l[1].CompressedSize || l[2].CompressedSize != l[0].CompressedSize ||
			l[2].SameBlobAs != 1 || l[1].SameBlobAs != 0 || a.Size != 2*l[0].Size+l[1].Size {
			t.Errorf("%s: compressed %d, size %d, layers %+v", c, a.CompressedSize, a.Size, l)
		}
	}
}

func TestWhiteouts(t *testing.T) {
	img := it.Image(t, v1.Config{},
		it.By("base", it.Layer(t,
			it.Dir("bin"), it.File("bin/sh", 100), it.File("bin/true", 10),
			it.Dir("usr/local/go/bin"), it.File("usr/local/go/bin/go", 500), it.File("usr/local/keep", 1))),
		it.By("clean", it.Layer(t,
			it.Whiteout("bin", "sh"),
			it.Opaque("usr/local"), it.File("usr/local/new", 2))),
	)
	a := analyze(t, img)
	if a.Has(Shell) || a.Has(Toolchain) {
		t.Errorf("deleted files still found: %v", a.Findings)
	}
	// Deleted files still take space in the lower layer, as in Docker.
	if want := int64(100 + 10 + 500 + 1 + 2); a.Size != want {
		t.Errorf("Size = %d, want %d", a.Size, want)
	}
	var paths []string
	for _, f := range a.Largest {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "/bin/true /usr/local/new" {
		t.Errorf("final files = %v, want /bin/true and /usr/local/new", paths)
	}
}

// TestProgramFindings: shells, package managers and toolchains are
// programs (executable, or links to one, where a PATH reaches), not files
// with their names, in the layouts of Debian, Alpine and distroless.
func TestProgramFindings(t *testing.T) {
	exe, file, link := it.Executable, it.File, it.Symlink
	for _, tt := range []struct {
		name    string
		entries []it.Entry
		want    map[Kind][]string
	}{
		{"debian without its shells: data files named after them are not shells", []it.Entry{
			file("usr/share/debianutils/shells.d/bash", 10), file("usr/share/lintian/overrides/dash", 10),
			file("usr/share/menu/bash", 10), file("etc/logrotate.d/apt", 10),
			file("usr/share/bash-completion/completions/apt", 10), exe("usr/lib/apt/apt-helper", 10),
			file("var/lib/dpkg/status", 10),
		}, map[Kind][]string{PackageManager: {"/var/lib/dpkg/status"}}},
		{"debian with gcc-12 and g++-12, versioned and triplet-prefixed", []it.Entry{
			exe("usr/bin/x86_64-linux-gnu-gcc-12", 10), link("usr/bin/gcc-12", "x86_64-linux-gnu-gcc-12"),
			exe("usr/bin/x86_64-linux-gnu-g++-12", 10), link("usr/bin/g++-12", "x86_64-linux-gnu-g++-12"),
			link("usr/bin/cc", "/etc/alternatives/cc"), link("etc/alternatives/cc", "/usr/bin/gcc-12"),
			exe("usr/bin/clang-17", 10), exe("usr/bin/dash", 10), link("bin", "usr/bin"),
		}, map[Kind][]string{
			Toolchain: {"/usr/bin/cc", "/usr/bin/clang-17", "/usr/bin/g++-12", "/usr/bin/gcc-12", "/usr/bin/x86_64-linux-gnu-g++-12", "/usr/bin/x86_64-linux-gnu-gcc-12"},
			Shell:     {"/usr/bin/dash"},
		}},
		{"alpine: busybox and its links, apk", []it.Entry{
			exe("bin/busybox", 10), link("bin/sh", "/bin/busybox"), link("bin/ash", "busybox"),
			exe("sbin/apk", 10), file("lib/apk/db/installed", 10), exe("usr/bin/x86_64-alpine-linux-musl-gcc", 10),
		}, map[Kind][]string{
			Shell:          {"/bin/ash", "/bin/busybox", "/bin/sh"},
			PackageManager: {"/lib/apk/db/installed", "/sbin/apk"},
			Toolchain:      {"/usr/bin/x86_64-alpine-linux-musl-gcc"},
		}},
		{"merged /usr: links through linked directories, .. after a link from where it led", []it.Entry{
			exe("usr/bin/bash", 10), exe("usr/bin/dash", 10), it.Dir("usr/lib"), link("bin", "usr/bin"),
			link("usr/bin/sh", "/bin/bash"), link("usr/bin/rbash", "../../bin/bash"),
			link("x", "usr/lib"), link("sbin/sh", "/x/../bin/dash"),
			file("usr/lib/dpkg-state/status", 10), link("var/lib/dpkg", "../../usr/lib/dpkg-state"),
		}, map[Kind][]string{
			Shell:          {"/sbin/sh", "/usr/bin/bash", "/usr/bin/dash", "/usr/bin/rbash", "/usr/bin/sh"},
			PackageManager: {"/var/lib/dpkg/status"},
		}},
		{"distroless debug: busybox's own directory", []it.Entry{
			exe("busybox/busybox", 10), link("busybox/sh", "busybox"), file("var/lib/dpkg/status.d/base", 10),
		}, map[Kind][]string{Shell: {"/busybox/busybox", "/busybox/sh"}}},
		{"not programs: not executable, dangling or looping links, directories", []it.Entry{
			file("bin/sh", 10), link("usr/bin/bash", "/nowhere"), link("usr/bin/zsh", "ksh"), link("usr/bin/ksh", "zsh"),
			it.Dir("usr/local/go/bin/go"),
		}, map[Kind][]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := analyze(t, it.Image(t, v1.Config{User: "1"}, it.By("layer", it.Layer(t, tt.entries...))))
			for _, k := range []Kind{Shell, PackageManager, Toolchain} {
				var got []string
				for _, f := range a.Of(k) {
					got = append(got, f.Path)
				}
				if strings.Join(got, " ") != strings.Join(tt.want[k], " ") {
					t.Errorf("%s: %v, want %v", k, got, tt.want[k])
				}
			}
		})
	}
}

func TestFindings(t *testing.T) {
	tests := []struct {
		name    string
		config  v1.Config
		entries []it.Entry
		kind    Kind
		path    string // the path found, or "" for none expected
	}{
		{"shell", v1.Config{User: "1"}, []it.Entry{it.Executable("bin/sh", 10)}, Shell, "/bin/sh"},
		{"shell as symlink", v1.Config{User: "1"}, []it.Entry{it.Executable("bin/busybox", 10), it.Symlink("bin/ash", "busybox")}, Shell, "/bin/ash"},
		{"no shell", v1.Config{User: "1"}, []it.Entry{it.Executable("app", 10), it.File("share/sh.txt", 1)}, Shell, ""},
		{"an executable text file is no shell", v1.Config{User: "1"}, []it.Entry{{Name: "bin/sh", Content: []byte("echo alpacas\n"), Mode: 0o755}}, Shell, ""},
		{"nor an empty one", v1.Config{User: "1"}, []it.Entry{{Name: "bin/bash", Mode: 0o755}}, Shell, ""},
		{"a script is", v1.Config{User: "1"}, []it.Entry{{Name: "bin/bash", Content: []byte("#!/bin/busybox sh\n"), Mode: 0o755}}, Shell, "/bin/bash"},
		{"apk database", v1.Config{User: "1"}, []it.Entry{it.File("lib/apk/db/installed", 10)}, PackageManager, "/lib/apk/db/installed"},
		{"apt-get", v1.Config{User: "1"}, []it.Entry{it.Executable("usr/bin/apt-get", 10)}, PackageManager, "/usr/bin/apt-get"},
		{"no package manager", v1.Config{User: "1"}, []it.Entry{it.Executable("app", 10)}, PackageManager, ""},
		{"go toolchain", v1.Config{User: "1"}, []it.Entry{it.Executable("usr/local/go/bin/go", 10)}, Toolchain, "/usr/local/go/bin/go"},
		{"gcc", v1.Config{User: "1"}, []it.Entry{it.Executable("usr/bin/gcc", 10)}, Toolchain, "/usr/bin/gcc"},
		{"a directory named go is not a toolchain", v1.Config{User: "1"}, []it.Entry{it.Dir("usr/local/go")}, Toolchain, ""},
		{"setuid", v1.Config{User: "1"}, []it.Entry{{Name: "bin/su", Size: 10, Mode: 0o4755}}, Setuid, "/bin/su"},
		{"setgid", v1.Config{User: "1"}, []it.Entry{{Name: "bin/wall", Size: 10, Mode: 0o2755}}, Setuid, "/bin/wall"},
		{"no setuid", v1.Config{User: "1"}, []it.Entry{{Name: "bin/ls", Size: 10, Mode: 0o755}}, Setuid, ""},
		{"world-writable file", v1.Config{User: "1"}, []it.Entry{{Name: "etc/conf", Size: 1, Mode: 0o666}}, WorldWritable, "/etc/conf"},
		{"world-writable directory", v1.Config{User: "1"}, []it.Entry{{Name: "tmp", Dir: true, Mode: 0o1777}}, WorldWritable, "/tmp"},
		{"symlinks are not world-writable", v1.Config{User: "1"}, []it.Entry{it.Symlink("link", "app")}, WorldWritable, ""},
		{"devices under /dev are not world-writable: a container gets a fresh /dev", v1.Config{User: "1"}, []it.Entry{{Name: "dev/null", Char: true, Mode: 0o666}}, WorldWritable, ""},
		{"a device elsewhere is", v1.Config{User: "1"}, []it.Entry{{Name: "opt/null", Char: true, Mode: 0o666}}, WorldWritable, "/opt/null"},
		{"no user is root", v1.Config{}, nil, Root, ""},
		{"root by name", v1.Config{User: "root"}, nil, Root, ""},
		{"root by number", v1.Config{User: "0:0"}, nil, Root, ""},
		{"non-root", v1.Config{User: "65532:65532"}, nil, Root, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := it.Image(t, tt.config, it.By("layer", it.Layer(t, tt.entries...)))
			a := analyze(t, img)
			found := a.Of(tt.kind)
			switch {
			case tt.kind == Root && tt.path == "":
				if len(found) != 1 || !a.Root {
					t.Errorf("root not found for user %q: %v", tt.config.User, a.Findings)
				}
			case tt.kind == Root:
				if len(found) != 0 || a.Root {
					t.Errorf("root found for user %q: %v", tt.config.User, a.Findings)
				}
			case tt.path == "":
				if len(found) != 0 {
					t.Errorf("found %v, want no %s", found, tt.kind)
				}
			default:
				if len(found) == 0 || found[0].Path != tt.path {
					t.Errorf("found %v, want %s at %s", found, tt.kind, tt.path)
				}
			}
		})
	}
}

func TestConfig(t *testing.T) {
	a := analyze(t, it.Scratch(t))
	if a.User != "65532:65532" || a.Root || strings.Join(a.Entrypoint, " ") != "/app" ||
		strings.Join(a.Ports, ",") != "8080/tcp" || strings.Join(a.Healthcheck, " ") != "CMD /app -healthcheck" {
		t.Errorf("config = user %q root %v entrypoint %v ports %v healthcheck %v", a.User, a.Root, a.Entrypoint, a.Ports, a.Healthcheck)
	}
	if len(a.Findings) != 0 {
		t.Errorf("findings in a scratch image: %v", a.Findings)
	}
	none := it.Image(t, v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}})
	if a := analyze(t, none); a.Healthcheck != nil {
		t.Errorf("HEALTHCHECK NONE counted as a health check: %v", a.Healthcheck)
	}
}

func TestTruncatedLayer(t *testing.T) {
	whole := it.TarBytes(t, it.File("big", 100_000))
	img := it.Image(t, v1.Config{}, it.By("cut", it.LayerFromBytes(t, whole[:50_000])))
	_, err := Analyze(context.Background(), img, Options{Compression: Computed})
	if err == nil || !strings.Contains(err.Error(), "layer 1 of 1") || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("truncated layer: err = %v, want it to name the layer and the cause", err)
	}
}

func TestRandomImage(t *testing.T) {
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	a := analyze(t, img)
	if len(a.Layers) != 3 || a.Files != 3 || a.Size != 3*4096 {
		t.Errorf("random image: %d layers, %d files, %d bytes; want 3, 3, %d", len(a.Layers), a.Files, a.Size, 3*4096)
	}
}

func TestReduce(t *testing.T) {
	r := Reduce(1000, 20)
	if r.Percent != 98 || r.Factor != 50 {
		t.Errorf("Reduce(1000, 20) = %+v, want 98%% and 50x", r)
	}
	if r := Reduce(100, 200); r.Percent != -100 {
		t.Errorf("a larger image: %+v, want -100%%", r)
	}
}
