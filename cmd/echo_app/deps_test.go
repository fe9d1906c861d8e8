package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly holds the server binary to the standard library:
// the image build downloads nothing, and nothing outside Go's own packages
// runs in the server.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/rastringer/docker_multistage/"
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, module) {
			t.Errorf("echo_app depends on %s, which is not in the standard library", pkg)
		}
	}
}
