package main

import (
	"bufio"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles echo_app the way the images do, once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echo_app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=v0.0.0-test", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs the binary and returns it with its bound address.
func startProcess(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			go func() {
				for lines.Scan() {
				}
			}()
			return cmd, m[1]
		}
	}
	t.Fatal("the process never logged its address")
	return nil, ""
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) (int, time.Duration) {
	t.Helper()
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), time.Since(began)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, time.Since(began)
	case <-time.After(within):
		t.Fatalf("process still running %v after the signal", within)
		return -1, 0
	}
}

// TestSignals checks the process as a container runs it: SIGTERM exits 0
// after a graceful shutdown, and a second signal during a long drain
// delay exits at once.
func TestSignals(t *testing.T) {
	bin := buildBinary(t)

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, addr := startProcess(t, bin)
			resp, err := http.Get("http://" + addr + "/alpacas")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cmd.Process.Signal(sig)
			if code, _ := waitExit(t, cmd, 5*time.Second); code != 0 {
				t.Errorf("exit status %d after %v, want 0 after a graceful shutdown", code, sig)
			}
		})
	}

	for _, tt := range []struct {
		name  string
		after time.Duration
	}{
		{"second signal", 1300 * time.Millisecond},
		{"different second signal within the window", 300 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd, _ := startProcess(t, bin, "-drain-delay", "30s")
			cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(tt.after)
			began := time.Now()
			cmd.Process.Signal(syscall.SIGINT)
			code, _ := waitExit(t, cmd, 5*time.Second)
			if took := time.Since(began); code != 1 || took > time.Second {
				t.Errorf("SIGTERM, then SIGINT %v later: exit status %d after %v, want 1 at once", tt.after, code, took)
			}
		})
	}

	t.Run("repeated signal is one", func(t *testing.T) {
		cmd, _ := startProcess(t, bin, "-drain-delay", "1s")
		began := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(20 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		code, _ := waitExit(t, cmd, 5*time.Second)
		if took := time.Since(began); code != 0 || took < time.Second {
			t.Errorf("SIGTERM twice within the window: exit status %d after %v, want 0 after the 1s drain", code, took)
		}
	})

	t.Run("GNU timeout", func(t *testing.T) {
		// timeout signals the process, then its process group.
		if _, err := exec.LookPath("timeout"); err != nil {
			t.Skip("no timeout(1)")
		}
		began := time.Now()
		cmd := exec.Command("timeout", "--preserve-status", "1", bin, "-listen", "127.0.0.1:0", "-drain-delay", "2s")
		out, err := cmd.CombinedOutput()
		took := time.Since(began)
		if err != nil || took < 3*time.Second {
			t.Errorf("timeout 1 echo_app -drain-delay 2s: %v after %v, want exit 0 after the drain:\n%s", err, took, out)
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "-version").Output()
		if err != nil || !strings.HasPrefix(string(out), "echo_app v0.0.0-test (revision ") {
			t.Errorf("-version = %q, %v", out, err)
		}
	})

	t.Run("usage error exit status", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "PORT=abc")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || strings.Count(string(out), "\n") != 1 {
			t.Errorf("PORT=abc: %v, output %q; want exit status 2 and one line", err, out)
		}
	})
}
