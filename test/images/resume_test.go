package images

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

// faultProxy forwards TCP connections on 127.0.0.1 to a target, and cuts
// every second connection whose answers reach cutAt bytes there (the
// first, the third…). With dead, every connection after the first cut is
// closed as soon as it is accepted.
type faultProxy struct {
	addr  string
	dead  bool
	conns atomic.Int64
	big   atomic.Int64 // connections whose answers reached cutAt
	cut   atomic.Int64 // connections closed short
}

func startFaultProxy(t *testing.T, target string, cutAt int64, dead bool) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{addr: ln.Addr().String(), dead: dead}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer client.Close()
				if p.dead && p.cut.Load() > 0 {
					return
				}
				server, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer server.Close()
				go func() {
					// The client's end closes the registry's, so an idle
					// connection ends with the client.
					io.Copy(server, client)
					server.Close()
				}()
				if _, err := io.CopyN(client, server, cutAt); err != nil {
					return
				}
				if p.big.Add(1)%2 == 1 {
					p.cut.Add(1)
					return
				}
				io.Copy(client, server)
			}()
		}
	}()
	return p
}

// registryFigures are what the JSON report says of an image, its name
// aside.
func registryFigures(t *testing.T, stdout string) string {
	t.Helper()
	var doc struct {
		Images []map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc.Images) != 1 {
		t.Fatalf("not one image's JSON (%v): %s", err, stdout)
	}
	delete(doc.Images[0], "name")
	b, err := json.Marshal(doc.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestResumedDownload reads the shipped image from the project's registry
// through a proxy on 127.0.0.1 that cuts every second connection after
// 256 KiB of answers: each broken blob download resumes with a Range
// request where it stopped, is said on stderr, and the figures are those
// of a direct read. A registry that cuts the download and then answers
// nothing is given up after 5 attempts in a row, exit 2.
func TestResumedDownload(t *testing.T) {
	dockertest.BuildImages(t)
	r := requireRegistries(t)
	ref := push(t, dockertest.MultiStage, r.open, "echo_app_multistage:resume-test")
	repo := strings.TrimPrefix(ref, r.open)

	direct, stderr, code := imgcompare(t, "-o", "json", "docker://"+ref)
	if code != 0 {
		t.Fatalf("direct: exit %d: %s", code, stderr)
	}
	const cutAt = 256 << 10
	flaky := startFaultProxy(t, r.open, cutAt, false)
	stdout, stderr, code := imgcompare(t, "-o", "json", "docker://"+flaky.addr+repo)
	if code != 0 {
		t.Fatalf("through the proxy: exit %d: %s", code, stderr)
	}
	if got, want := registryFigures(t, stdout), registryFigures(t, direct); got != want {
		t.Errorf("through the proxy:\n%s\ndirect:\n%s", got, want)
	}
	resumed := strings.Count(stderr, "resuming in")
	if flaky.cut.Load() == 0 || resumed == 0 || resumed != strings.Count(stderr, "\n") {
		t.Errorf("%d connections cut, %d resumes said; stderr:\n%s", flaky.cut.Load(), resumed, stderr)
	}
	t.Logf("%d connections, %d cut; stderr:\n%s", flaky.conns.Load(), flaky.cut.Load(), stderr)

	dead := startFaultProxy(t, r.open, cutAt, true)
	_, stderr, code = imgcompare(t, "-o", "json", "docker://"+dead.addr+repo)
	if code != 2 || !strings.Contains(stderr, "5 resumes in a row gained nothing") || strings.Count(stderr, "resuming in") != 5 {
		t.Errorf("a registry that answers nothing after the cut: exit %d, want 2, after 5 attempts; stderr:\n%s", code, stderr)
	}
	t.Logf("given up: %s", stderr)
}
