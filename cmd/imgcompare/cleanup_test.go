package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds imgcompare once, for the tests that need a real process.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imgcompare-bin-*")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "imgcompare")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

// leftovers lists what dir holds.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if p != dir {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// TestNothingLeftBehind runs imgcompare on every source that needs a
// temporary copy or a decompressing read, to each exit status, with
// TMPDIR a fresh directory, and checks that it is empty afterwards.
func TestNothingLeftBehind(t *testing.T) {
	bin := binary(t)
	src := writeSources(t, it.Scratch(t))
	gzippedBytes, err := os.ReadFile(src.gzipped)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		arg   string
		stdin []byte
	}{
		{"docker-archive", src.saved, nil},
		{"gzipped docker-archive", src.gzipped, nil},
		{"oci-archive", src.archive, nil},
		{"stdin", "-", src.savedBytes},
		{"gzipped stdin", "-", gzippedBytes},
		{"oci-archive on stdin", "-", src.archiveBytes},
	}
	exits := []struct {
		code int
		args []string
	}{
		{0, nil},
		{1, []string{"--max-size", "1kB"}},
		{2, []string{"--platform", "linux/s390x"}}, // read, then refused
	}
	for _, s := range cases {
		for _, e := range exits {
			tmp := t.TempDir()
			cmd := exec.Command(bin, append(e.args, s.arg)...)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			cmd.Stdin = bytes.NewReader(s.stdin)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			if code := exitCode(t, cmd.Run()); code != e.code {
				t.Errorf("%s %v: exit %d, want %d: %s", s.name, e.args, code, e.code, stderr.String())
			}
			if left := leftovers(t, tmp); len(left) > 0 {
				t.Errorf("%s, exit %d: left %v in TMPDIR", s.name, e.code, left)
			}
		}
	}
}

// TestSignalsLeaveNothing interrupts imgcompare with SIGINT and SIGTERM
// while it copies stdin, and while it analyses an OCI archive it has
// extracted: it exits 128+signal and TMPDIR is as it found it.
func TestSignalsLeaveNothing(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	// Large enough that reading it takes a while after its extraction.
	img := it.Image(t, v1.Config{}, it.By("ADD big", it.Layer(t, it.File("big", 96<<20))))
	archive := filepath.Join(dir, "big.tar")
	it.TarDir(t, writeLayout(t, img), archive)

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String()+" while copying stdin", func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(bin, "-")
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Part of a tarball, then silence: the copy is under way.
			stdin.Write(make([]byte, 1<<20))
			waitFor(t, func() bool { return spooled(tmp) >= 1<<20 })
			cmd.Process.Signal(sig)
			code := exitCode(t, cmd.Wait())
			stdin.Close()
			if code != 128+int(sig) {
				t.Errorf("exit %d, want %d: %s", code, 128+int(sig), stderr.String())
			}
			if left := leftovers(t, tmp); len(left) > 0 {
				t.Errorf("left %v in TMPDIR", left)
			}
		})
		t.Run(sig.String()+" while analysing", func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(bin, archive)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The layout is extracted once its blobs are all there.
			info, err := os.Stat(archive)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return spooled(tmp) >= info.Size()*9/10 })
			cmd.Process.Signal(sig)
			code := exitCode(t, cmd.Wait())
			if code != 128+int(sig) {
				t.Errorf("exit %d, want %d (0: it finished first): %s", code, 128+int(sig), stderr.String())
			}
			if left := leftovers(t, tmp); len(left) > 0 {
				t.Errorf("left %v in TMPDIR", left)
			}
		})
	}
}

// spooled is the bytes of the files under dir.
func spooled(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUnwritableTMPDIR: a source that needs no temporary copy is read with
// TMPDIR unwritable; one that does is an error saying so, exit 2.
func TestUnwritableTMPDIR(t *testing.T) {
	bin := binary(t)
	src := writeSources(t, it.Scratch(t))
	for _, c := range []struct {
		arg   string
		stdin []byte
		code  int
	}{
		{src.layout, nil, 0},
		{src.saved, nil, 0},
		{src.gzipped, nil, 0},
		{"-", src.savedBytes, 2},
	} {
		cmd := exec.Command(bin, c.arg)
		cmd.Env = append(os.Environ(), "TMPDIR=/nonexistent/imgcompare")
		cmd.Stdin = bytes.NewReader(c.stdin)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		code := exitCode(t, cmd.Run())
		if code != c.code || c.code == 2 && !strings.Contains(stderr.String(), "temporary directory") {
			t.Errorf("%s: exit %d, want %d: %s", c.arg, code, c.code, stderr.String())
		}
	}
}

// TestVersion: --version names the commit the binary was built from
// (marked when the tree had changes) and the Go toolchain, exit 0.
func TestVersion(t *testing.T) {
	// With the commit stamped, whatever GOFLAGS says.
	bin := filepath.Join(t.TempDir(), "imgcompare")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "imgcompare ") || !strings.HasPrefix(lines[1], "revision ") ||
		!strings.HasPrefix(lines[2], runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("--version printed:\n%s", out)
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err == nil && !strings.HasPrefix(lines[1], "revision "+strings.TrimSpace(string(rev))) {
		t.Errorf("revision line %q, HEAD is %s", lines[1], rev)
	}
}

// TestProgress runs imgcompare with stderr on a real pseudo-terminal
// (util-linux's script) and on a pipe: progress shows on the terminal by
// default, on the pipe only with --progress always, nowhere with --quiet,
// and stdout is the same byte for byte in every case.
func TestProgress(t *testing.T) {
	bin := binary(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("util-linux's script is needed (Debian's bsdutils): %v", err)
	}
	src := writeSources(t, it.Scratch(t))
	want, err := exec.Command(bin, "-o", "json", src.saved).Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		terminal bool
		flags    []string
		shown    bool
	}{
		{"terminal", true, nil, true},
		{"terminal, --quiet", true, []string{"--quiet"}, false},
		{"terminal, --progress never", true, []string{"--progress", "never"}, false},
		{"pipe", false, nil, false},
		{"pipe, --progress always", false, []string{"--progress", "always"}, true},
	} {
		out := filepath.Join(dir, "out.json")
		args := append(append([]string{bin, "-o", "json"}, c.flags...), src.saved)
		var stderr []byte
		if c.terminal {
			// script gives the command a terminal and copies what it
			// writes there; stdout goes to a file.
			quoted := make([]string, len(args))
			for i, a := range args {
				quoted[i] = "'" + a + "'"
			}
			stderr, err = exec.Command(script, "-qec", strings.Join(quoted, " ")+" >"+out, "/dev/null").Output()
		} else {
			cmd := exec.Command(args[0], args[1:]...)
			var stdout, errBuf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &errBuf
			err = cmd.Run()
			stderr = errBuf.Bytes()
			os.WriteFile(out, stdout.Bytes(), 0o644)
		}
		if err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, stderr)
		}
		shown := bytes.Contains(stderr, []byte("imgcompare: reading "+src.saved+": layer 1 of 1, "))
		if shown != c.shown {
			t.Errorf("%s: progress shown %v, want %v: %q", c.name, shown, c.shown, stderr)
		}
		if c.terminal && shown && !bytes.HasSuffix(stderr, []byte("\r\033[K")) {
			t.Errorf("%s: the progress line is not cleared at the end: %q", c.name, stderr)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: stdout differs from a run without progress:\n%s", c.name, got)
		}
	}
	if _, err := exec.Command(bin, "--progress", "sometimes", src.saved).Output(); exitCode(t, err) != 2 {
		t.Errorf("--progress sometimes: %v, want exit 2", err)
	}
}
