package analysis

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

// goBinary builds a small static Go program with the installed toolchain,
// with the linker's flags given.
func goBinary(t *testing.T, ldflags string) []byte {
	t.Helper()
	dir := t.TempDir()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"I love alpacas!\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module alpacas\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+ldflags, "-o", "app", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goImage is a single-stage image: a Go toolchain and the program built
// with it, which config runs.
func goImage(t *testing.T, config v1.Config, program ...it.Entry) v1.Image {
	exe := it.Executable
	return it.Image(t, config,
		it.By("FROM golang", it.Layer(t, exe("usr/local/go/bin/go", 1000), exe("usr/local/go/pkg/tool/linux_amd64/compile", 500), exe("bin/sh", 100))),
		it.By("RUN go install", it.Layer(t, program...)),
	)
}

// TestRunsStaticGo: a static Go binary found through the image's PATH,
// its size without symbols and debug information predicted from its
// section headers within 1% of what the linker makes with -s -w.
func TestRunsStaticGo(t *testing.T) {
	full, stripped := goBinary(t, ""), goBinary(t, "-s -w")
	img := goImage(t, v1.Config{Env: []string{"PATH=/usr/local/go/bin:/go/bin"}, Cmd: []string{"app"}},
		it.Entry{Name: "go/bin/app", Mode: 0o755, Content: full})
	r := analyze(t, img).Runs
	if r == nil || r.Path != "/go/bin/app" || r.Bytes != int64(len(full)) || !r.ELF || !r.Static || !r.Go || r.Interpreter != "" {
		t.Fatalf("runs %+v: want /go/bin/app, %d bytes, a static Go binary", r, len(full))
	}
	want := int64(len(stripped))
	t.Logf("%d bytes; without symbols predicted %d, the linker's -s -w %d (%+.2f%%)", r.Bytes, r.Stripped, want, 100*float64(r.Stripped-want)/float64(want))
	if d := r.Stripped - want; d < -want/100 || d > want/100 {
		t.Errorf("stripped: predicted %d bytes, the linker made %d", r.Stripped, want)
	}
	a := analyze(t, img).Advice[0]
	if a.What != GoToolchain || !strings.Contains(a.Fix, "/go/bin/app, a static binary, FROM scratch") || !strings.Contains(a.Fix, "go build -ldflags='-s -w'") {
		t.Errorf("advice %+v: want the toolchain's, naming the static binary and the linker's flags", a)
	}
	// Already stripped: nothing more to leave out.
	r = analyze(t, goImage(t, v1.Config{Entrypoint: []string{"/go/bin/app"}}, it.Entry{Name: "go/bin/app", Mode: 0o755, Content: stripped})).Runs
	if r == nil || r.Stripped != r.Bytes || !r.Static {
		t.Errorf("a stripped binary: %+v", r)
	}
}

// TestRunsDynamic: a dynamically linked binary (this machine's ls, as
// Debian built it) names its loader and libraries; one reached through a
// symlink is found at its target.
func TestRunsDynamic(t *testing.T) {
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	img := goImage(t, v1.Config{Entrypoint: []string{"/usr/local/bin/app"}, Cmd: []string{"-l"}},
		it.Entry{Name: "usr/local/bin/app", Mode: 0o755, Content: ls})
	r := analyze(t, img).Runs
	if r == nil || !r.ELF || r.Static || r.Go || r.Interpreter == "" || !slices.Contains(r.Libraries, "libc.so.6") {
		t.Fatalf("runs %+v: want a dynamic binary with its loader and libc", r)
	}
	if a := analyze(t, img).Advice[0]; !strings.Contains(a.Fix, "with its loader "+r.Interpreter+" and libraries ") {
		t.Errorf("advice %+v: want the loader and libraries named", a)
	}
}

// TestRunsFound covers how the program is looked up: through a symlink,
// relative to the working directory, a script, a shell's -c (no program
// to name), an image without a toolchain (no estimate at all).
func TestRunsFound(t *testing.T) {
	exe := it.Executable
	for _, c := range []struct {
		name    string
		config  v1.Config
		entries []it.Entry
		want    string // the path found, "" for none
		elf     bool
	}{
		{"symlink", v1.Config{Cmd: []string{"app"}}, []it.Entry{exe("opt/app/bin/app", 3000), it.Symlink("usr/local/bin/app", "../../../opt/app/bin/app")}, "/opt/app/bin/app", false},
		{"working directory", v1.Config{WorkingDir: "/srv", Entrypoint: []string{"./run"}}, []it.Entry{exe("srv/run", 20)}, "/srv/run", false},
		{"script", v1.Config{Cmd: []string{"/app.sh"}}, []it.Entry{{Name: "app.sh", Mode: 0o755, Content: []byte("#!/bin/sh\nexec true\n")}}, "/app.sh", false},
		{"shell -c", v1.Config{Cmd: []string{"/bin/sh", "-c", "app"}}, []it.Entry{exe("usr/bin/app", 20)}, "", false},
		{"not executable", v1.Config{Cmd: []string{"/app"}}, []it.Entry{it.File("app", 20)}, "", false},
	} {
		r := analyze(t, goImage(t, c.config, c.entries...)).Runs
		switch {
		case c.want == "" && r != nil:
			t.Errorf("%s: runs %+v, want none", c.name, r)
		case c.want != "" && (r == nil || r.Path != c.want || r.ELF != c.elf):
			t.Errorf("%s: runs %+v, want %s", c.name, r, c.want)
		}
	}
	noToolchain := it.Image(t, v1.Config{Cmd: []string{"/app"}}, it.By("COPY app", it.Layer(t, it.Executable("app", 100))))
	if r := analyze(t, noToolchain).Runs; r != nil {
		t.Errorf("no toolchain: runs %+v, want none", r)
	}
}
