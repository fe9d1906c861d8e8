package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/rastringer/docker_multistage/internal/dockertest"
)

// TestProjectImages analyses the images make images builds, in the local
// Docker engine: sizes agree with docker image inspect, and the CI gate
// passes for the multi-stage image and fails, rule by rule, for the
// single-stage one.
func TestProjectImages(t *testing.T) {
	dockertest.BuildImages(t)
	images := []string{dockertest.SingleStage, dockertest.Alpine, dockertest.MultiStage}

	r := imgcompare(t, nil, append([]string{"-o", "json"}, images...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	doc := parse(t, r.stdout)
	for i, img := range images {
		want := dockertest.ImageSize(t, img)
		got := doc.Images[i].Size.Uncompressed
		t.Logf("%s: uncompressed %d bytes (docker image inspect: %d), compressed %d bytes", img, got, want, doc.Images[i].Size.Compressed)
		if got != want {
			t.Errorf("%s: uncompressed size %d, docker image inspect says %d", img, got, want)
		}
		if doc.Images[i].Source != "docker" {
			t.Errorf("%s: source %q", img, doc.Images[i].Source)
		}
	}

	gate := []string{"--max-size", "6.5MB", "--max-compressed-size", "3MB", "--forbid", "shell,package-manager,toolchain,root,setuid,world-writable"}
	pass := imgcompare(t, nil, append(gate, dockertest.MultiStage)...)
	if pass.code != 0 {
		t.Errorf("gate on %s: exit %d\n%s", dockertest.MultiStage, pass.code, pass.stderr)
	}
	reduction := imgcompare(t, nil, "--min-reduction", "98%", dockertest.SingleStage, dockertest.MultiStage)
	if reduction.code != 0 {
		t.Errorf("--min-reduction 98%%: exit %d\n%s", reduction.code, reduction.stderr)
	}

	fail := imgcompare(t, nil, append(gate, dockertest.SingleStage)...)
	if fail.code != 1 {
		t.Fatalf("gate on %s: exit %d, want 1\n%s", dockertest.SingleStage, fail.code, fail.stderr)
	}
	size := dockertest.ImageSize(t, dockertest.SingleStage)
	for _, want := range []string{
		"echo_app: --max-size: uncompressed size ",
		"(" + strconv.FormatInt(size, 10) + " bytes) exceeds 6.50 MB (6500000 bytes)",
		"echo_app: --max-compressed-size: compressed size ",
		"echo_app: --forbid: shell: /bin/",
		"echo_app: --forbid: toolchain: /usr/local/go/bin/go",
		"echo_app: --forbid: root: runs as root (no user set)",
	} {
		if !strings.Contains(fail.stderr, want) {
			t.Errorf("violations lack %q:\n%s", want, fail.stderr)
		}
	}
}
