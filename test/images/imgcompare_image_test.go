package images

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	spdxjson "github.com/spdx/tools-golang/json"

	it "github.com/rastringer/docker_multistage/internal/imagetest"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// TestImgcompareImage builds imgcompare's own image with the release
// pipeline (Dockerfile.imgcompare: BuildKit, three platforms, provenance,
// SBOM), gates it with itself, and runs it as users do: on a tarball and
// an OCI archive from a mounted volume, on the engine through its mounted
// socket, and on a registry served over TLS with a CA the test makes,
// trusted through SSL_CERT_FILE, and refused without it.
func TestImgcompareImage(t *testing.T) {
	dockertest.Require(t)
	dockertest.BuildImages(t)
	requireRegistries(t)
	ref, archive := release(t, "test-imgcompare", "DOCKERFILE=Dockerfile.imgcompare")
	rel := pulled(t, ref)
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/arm/v7"} {
		if _, ok := rel.images[p]; !ok {
			t.Fatalf("the index lacks %s: %v", p, rel.platformDigests())
		}
	}
	rel.statement(t, "linux/amd64", "https://slsa.dev/provenance/v1")
	_, predicate := rel.statement(t, "linux/amd64", "https://spdx.dev/Document")
	doc, err := spdxjson.Read(bytes.NewReader(predicate))
	if err != nil {
		t.Fatal(err)
	}
	var modules []string
	for _, p := range doc.Packages {
		modules = append(modules, p.PackageName)
	}
	if !strings.Contains(strings.Join(modules, " "), "github.com/google/go-containerregistry") {
		t.Errorf("the SBOM does not list go-containerregistry: %v", modules)
	}

	image := "imgcompare-test:latest"
	dockertest.Docker(t, "pull", "-q", ref.String())
	dockertest.Docker(t, "tag", ref.String(), image)
	t.Cleanup(func() { dockertest.DockerErr("rmi", image, ref.String()) })

	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the image's user reads it
		t.Fatal(err)
	}
	self := filepath.Join(dir, "self.tar")
	dockertest.Docker(t, "save", "-o", self, image)
	oci := filepath.Join(dir, "image.oci.tar")
	copyFile(t, archive, oci)
	for _, f := range []string{self, oci} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// docker run IMAGE ARGS…, as the image's user, with extra docker flags.
	run := func(flags []string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command("docker", append(append(append([]string{"run", "--rm", "--network", "host"}, flags...), image), args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	volume := []string{"-v", dir + ":/work:ro"}

	// Gated by itself: small, non-root, no shell, its CA bundle in place.
	stdout, stderr, code := run(volume, "-o", "json", "--max-size", "12MB", "--forbid", "shell,package-manager,toolchain,root", "/work/self.tar")
	if code != 0 {
		t.Fatalf("imgcompare on its own image: exit %d\n%s", code, stderr)
	}
	var selfDoc struct {
		Images []struct {
			Size struct {
				Uncompressed, Compressed int64
			}
			Largest []struct{ Path string } `json:"largest_files"`
			Config  struct{ User string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &selfDoc); err != nil {
		t.Fatal(err)
	}
	s := selfDoc.Images[0]
	var paths []string
	for _, f := range s.Largest {
		paths = append(paths, f.Path)
	}
	if s.Config.User != "65532:65532" || strings.Join(paths, " ") != "/imgcompare /etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("its own image: user %q, files %v", s.Config.User, paths)
	}
	t.Logf("imgcompare's image: %d bytes, %d compressed", s.Size.Uncompressed, s.Size.Compressed)

	// An OCI archive from the volume (extracted into the image's /tmp),
	// one platform of it.
	stdout, stderr, code = run(volume, "-o", "json", "--platform", "linux/arm64", "oci-archive:/work/image.oci.tar")
	if code != 0 || !strings.Contains(stdout, `"architecture": "arm64"`) {
		t.Errorf("an OCI archive: exit %d\n%s%s", code, stderr, stdout)
	}

	// The engine, through its socket.
	info, err := os.Stat("/var/run/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	sockGroup := strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Gid))
	stdout, stderr, code = run([]string{"--group-add", sockGroup, "-v", "/var/run/docker.sock:/var/run/docker.sock"}, "-o", "json", "docker-daemon:"+dockertest.MultiStage)
	if code != 0 || !strings.Contains(stdout, `"files": 1`) {
		t.Errorf("the engine through its socket: exit %d\n%s%s", code, stderr, stdout)
	}

	// A registry over TLS, with a CA made here.
	certs := t.TempDir()
	if err := os.Chmod(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	addr, pool := tlsRegistry(t, certs)
	target := fmt.Sprintf("%s/tls/app:1", addr)
	tag, err := name.NewTag(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, it.Scratch(t), remote.WithTransport(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}})); err != nil {
		t.Fatalf("pushing over TLS: %v", err)
	}
	trusted := []string{"-v", certs + ":/certs:ro", "-e", "SSL_CERT_FILE=/certs/ca.crt"}
	stdout, stderr, code = run(trusted, "-o", "json", "docker://"+target)
	if code != 0 || !strings.Contains(stdout, `"compressed_source": "stored"`) || !strings.Contains(stdout, `"files": 1`) {
		t.Errorf("a TLS registry with its CA: exit %d\n%s%s", code, stderr, stdout)
	}
	// The bundle's path is the one Go reads on Linux: the CA put there
	// (as a derived image would add it) is trusted too.
	atBundle := []string{"-v", filepath.Join(certs, "ca.crt") + ":/etc/ssl/certs/ca-certificates.crt:ro"}
	if stdout, stderr, code = run(atBundle, "-o", "json", "docker://"+target); code != 0 || !strings.Contains(stdout, `"files": 1`) {
		t.Errorf("a TLS registry with its CA as the image's bundle: exit %d\n%s%s", code, stderr, stdout)
	}
	if _, stderr, code = run(nil, "docker://"+target); code != 2 || !strings.Contains(stderr, "the registry's certificate is not trusted: tls: failed to verify certificate: x509: certificate signed by unknown authority") {
		t.Errorf("a TLS registry without its CA: exit %d, stderr %q; want 2 and an unknown authority", code, stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tlsRegistry starts Debian's docker-registry on a free port of 127.0.0.1
// over TLS, with a certificate for 127.0.0.1 from a CA made here, until
// the test ends. It writes ca.crt into dir and returns the address and a
// pool of the CA.
func tlsRegistry(t *testing.T, dir string) (string, *x509.CertPool) {
	t.Helper()
	if _, err := exec.LookPath("docker-registry"); err != nil {
		dockertest.Missing(t, "docker-registry is not installed", "docker-registry", "scripts/install-deps.sh")
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "imgcompare test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM := func(path, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER, 0o644)
	state := t.TempDir()
	writePEM(filepath.Join(state, "server.crt"), "CERTIFICATE", srvDER, 0o600)
	writePEM(filepath.Join(state, "server.key"), "EC PRIVATE KEY", srvKeyDER, 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The configuration of the project's registries, over TLS.
	config, err := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "registry.sh"), "config", filepath.Join(state, "data"), addr, "", state).Output()
	if err != nil {
		t.Fatalf("scripts/registry.sh config: %v", err)
	}
	if err := os.WriteFile(filepath.Join(state, "config.yml"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(state, "config.yml"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for range 100 {
		if resp, err := client.Get("https://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, pool
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the TLS registry on %s did not answer:\n%s", addr, log.String())
	return "", nil
}
