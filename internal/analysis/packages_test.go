package analysis

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// text is a regular file with the content given.
func text(name, content string) it.Entry {
	return it.Entry{Name: name, Content: []byte(content)}
}

// TestPackages attributes a tree with a package of each kind, the
// databases written as their formats' documentation says (dpkg's status,
// .list files and diversions, apk's installed database, a wheel's RECORD
// and an egg's installed-files.txt) and a Go binary built here, with the
// rules at their edges: /bin a link to usr/bin as in Debian since
// bookworm, a Multi-Arch: same package's name:arch.list, a diverted file,
// a file two packages list (the first in dpkg's status keeps it), a
// removed package's config files, a file of two names (counted once, for
// its owner), nested and scoped npm packages, a RECORD path out of
// site-packages.
func TestPackages(t *testing.T) {
	status := `Package: coreutils
Status: install ok installed
Architecture: amd64
Version: 9.1-1
Description: GNU core utilities
 This package contains the basic file, shell and text manipulation
 .
 utilities.

Package: libfoo
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 1.0-1

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 2.0-1

Package: never
Status: purge ok not-installed
Architecture: amd64

Package: diverter
Status: install ok installed
Architecture: all
Version: 3
`
	apkDB := "C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nF:lib\nR:ld-musl-x86_64.so.1\nZ:Q1def=\nR:libc.musl-x86_64.so.1\n\nC:Q1ghi=\nP:busybox\nV:1.36.1-r29\nF:bin\nR:busybox\n"
	record := "flask/__init__.py,sha256=x,20\nflask-3.0.0.dist-info/RECORD,,\n../../../bin/flask,sha256=y,9\n"
	pkgInfo := "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"
	eggFiles := "../six.py\nPKG-INFO\ninstalled-files.txt\n"
	express, debug, types := `{"name": "express", "version": "4.21.2"}`, `{"name":"debug","version":"2.6.9"}`, `{"name": "@types/node", "version": "22.0.0"}`
	goBin := goBinary(t, "")
	file := it.File
	img := it.Image(t, v1.Config{},
		it.By("debootstrap", it.Layer(t,
			it.Dir("usr/bin"), it.Symlink("bin", "usr/bin"),
			text("var/lib/dpkg/status", status),
			text("var/lib/dpkg/info/coreutils.list", "/.\n/bin\n/bin/ls\n/bin/cat\n/usr/share/doc/coreutils/copyright\n/usr/share/shared.txt\n"),
			text("var/lib/dpkg/info/libfoo:amd64.list", "/usr/lib/libfoo.so.1\n/usr/share/shared.txt\n"),
			text("var/lib/dpkg/info/gone.list", "/etc/gone.conf\n"),
			text("var/lib/dpkg/info/diverter.list", "/bin/cat\n"),
			text("var/lib/dpkg/diversions", "/bin/cat\n/bin/cat.real\ndiverter\n"),
			file("usr/bin/ls", 100), file("usr/bin/cat", 10), file("usr/bin/cat.real", 50),
			file("usr/share/doc/coreutils/copyright", 5), file("usr/share/shared.txt", 7), file("usr/lib/libfoo.so.1", 200),
			file("etc/gone.conf", 3), it.Entry{Name: "opt/ls-link", Hardlink: "usr/bin/ls"},
		)),
		it.By("RUN install", it.Layer(t,
			text("app/package.json", `{"name": "app"}`),
			text("app/node_modules/express/package.json", express), file("app/node_modules/express/index.js", 30),
			text("app/node_modules/express/node_modules/debug/package.json", debug), file("app/node_modules/express/node_modules/debug/src/index.js", 40),
			text("app/node_modules/@types/node/package.json", types), file("app/node_modules/@types/node/index.d.ts", 60),
			text("usr/lib/python3/dist-packages/flask-3.0.0.dist-info/RECORD", record),
			file("usr/lib/python3/dist-packages/flask/__init__.py", 20), file("usr/bin/flask", 9),
			text("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", pkgInfo),
			text("usr/lib/python3/dist-packages/six-1.16.0.egg-info/installed-files.txt", eggFiles),
			file("usr/lib/python3/dist-packages/six.py", 25),
			text("lib/apk/db/installed", apkDB),
			file("lib/ld-musl-x86_64.so.1", 300), it.Symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"), file("usr/bin/busybox", 500),
			it.Entry{Name: "go/bin/app", Mode: 0o755, Content: goBin},
			file("etc/hostname", 4),
		)),
	)
	a := analyze(t, img)
	a2, err := Analyze(context.Background(), img, Options{Compression: Computed, Packages: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range a2.Packages.List {
		got[p.Kind+" "+p.Name+" "+p.Version] = fmt.Sprintf("%d %d %d", p.Bytes, p.Files, p.Layer)
	}
	n := func(parts ...any) string { return fmt.Sprint(parts...) }
	want := map[string]string{
		"deb coreutils 9.1-1":    "162 4 1", // ls (and its second name), cat.real, copyright, shared.txt
		"deb diverter 3":         "10 1 1",
		"deb libfoo 1.0-1":       "200 1 1",
		"deb gone 2.0-1":         "3 1 1",
		"npm express 4.21.2":     n(30+len(express), " 2 2"),
		"npm debug 2.6.9":        n(40+len(debug), " 2 2"),
		"npm @types/node 22.0.0": n(60+len(types), " 2 2"),
		"python flask 3.0.0":     n(20+9+len(record), " 3 2"),
		"python six 1.16.0":      n(25+len(pkgInfo)+len(eggFiles), " 3 2"),
		"apk musl 1.2.5-r0":      n(300+len("ld-musl-x86_64.so.1"), " 2 2"),
		"apk busybox 1.36.1-r29": "500 1 2",
		"go alpacas (devel)":     n(len(goBin), " 1 2"),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q (bytes files layer), want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("packages %v, want %d", got, len(want))
	}
	unowned := map[string]int64{}
	for _, u := range a2.Packages.Unowned {
		unowned[u.Dir] = u.Bytes
	}
	if unowned["/etc"] != 4 || unowned["/app"] != int64(len(`{"name": "app"}`)) || unowned["/"] != int64(len("usr/bin")) || unowned["/var/lib/dpkg"] == 0 {
		t.Errorf("unowned %v: want /etc/hostname, the app's package.json, the /bin link and dpkg's database", unowned)
	}
	// Kept: the largest, the sums whole.
	if len(a.Packages.List) != 0 || a.Packages.Count != len(want) || a.Packages.Attributed != a2.Packages.Attributed {
		t.Errorf("Packages 0 keeps %d, count %d; want none listed, %d counted", len(a.Packages.List), a.Packages.Count, len(want))
	}
	if p := a2.Packages.Named([]string{"libfoo", "nothing"}); len(p) != 1 || p[0].Name != "libfoo" {
		t.Errorf("Named: %+v", p)
	}
	if !strings.HasPrefix(a2.Packages.List[0].Name, "alpacas") {
		t.Errorf("largest first: %+v", a2.Packages.List[0])
	}
}

// TestDownload: what a host holding one image downloads to pull another,
// by diff_id where the layers are not stored blobs: nothing for the same
// image, one extra layer's compressed size, each blob once.
func TestDownload(t *testing.T) {
	base := it.Layer(t, it.File("bin/busybox", 5000))
	extra := it.Layer(t, it.File("app", 3000))
	other := it.Layer(t, it.File("other", 2000))
	a := analyze(t, it.Image(t, v1.Config{}, it.By("base", base)))
	b := analyze(t, it.Image(t, v1.Config{}, it.By("base", base), it.By("COPY app", extra)))
	c := analyze(t, it.Image(t, v1.Config{}, it.By("base", base), it.By("COPY other", other), it.By("COPY app", extra), it.By("COPY app", extra)))
	for _, tc := range []struct {
		from, to *Image
		want     int64
	}{
		{a, a, 0},
		{a, b, b.Layers[1].CompressedSize},
		{b, a, 0},
		{b, c, c.Layers[1].CompressedSize},
		{a, c, c.Layers[1].CompressedSize + c.Layers[2].CompressedSize},
	} {
		if got := Download(tc.from, tc.to); got != tc.want || tc.want < 0 {
			t.Errorf("Download(%d layers, %d layers) = %d, want %d", len(tc.from.Layers), len(tc.to.Layers), got, tc.want)
		}
	}
	if b.Layers[1].CompressedSize == 0 {
		t.Error("a layer of no compressed bytes: the test proves nothing")
	}
}

// TestPackagesBounded: an image naming more bytes of manifests than the
// walk keeps is said to be attributed incompletely, not silently.
func TestPackagesBounded(t *testing.T) {
	defer func(n int64) { maxPkgTotal = n }(maxPkgTotal)
	maxPkgTotal = 100
	manifest := `{"name": "a-package-with-a-long-name", "version": "1.0.0"}`
	var entries []it.Entry
	for i := range 5 {
		entries = append(entries, text(fmt.Sprintf("app/node_modules/p%d/package.json", i), manifest), it.File(fmt.Sprintf("app/node_modules/p%d/index.js", i), 10))
	}
	p := analyze(t, it.Image(t, v1.Config{}, it.By("COPY node_modules", it.Layer(t, entries...)))).Packages
	if !p.Incomplete || p.Count != 100/len(manifest) {
		t.Errorf("incomplete %v, %d packages; want incomplete and %d", p.Incomplete, p.Count, 100/len(manifest))
	}
}
