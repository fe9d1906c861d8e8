package images

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/rastringer/docker_multistage/internal/source"
	"github.com/rastringer/docker_multistage/test/dockertest"
)

// release runs make release-image's script with the given settings, and
// returns the index it pushed and its OCI archive.
func release(t *testing.T, tag string, env ...string) (name.Digest, string) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.oci.tar")
	cmd := exec.Command(filepath.Join(dockertest.RepoRoot(), "scripts", "release-image.sh"))
	cmd.Dir = dockertest.RepoRoot()
	cmd.Env = append(os.Environ(), append([]string{"TAG=" + tag, "OUT=" + archive}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/release-image.sh %v: %v\n%s", env, err, tail(stderr.String(), 40))
	}
	ref, err := name.NewDigest(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("release-image.sh printed %q: %v", out, err)
	}
	t.Logf("%v: %s", env, ref)
	return ref, archive
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// built is one image index as the release pushed it: its platform images,
// by platform, and the attestation manifest of each.
type built struct {
	digest       v1.Hash
	images       map[string]v1.Descriptor  // "linux/arm/v7" → manifest
	attestations map[v1.Hash]v1.Descriptor // platform manifest digest → attestation manifest
	index        v1.ImageIndex
}

func readIndex(t *testing.T, idx v1.ImageIndex) built {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	b := built{digest: d, images: map[string]v1.Descriptor{}, attestations: map[v1.Hash]v1.Descriptor{}, index: idx}
	for _, desc := range m.Manifests {
		if desc.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			subject, err := v1.NewHash(desc.Annotations["vnd.docker.reference.digest"])
			if err != nil {
				t.Fatalf("attestation %s: %v", desc.Digest, err)
			}
			b.attestations[subject] = desc
			continue
		}
		if desc.Platform == nil {
			t.Fatalf("manifest %s has no platform", desc.Digest)
		}
		b.images[desc.Platform.String()] = desc
	}
	return b
}

func pulled(t *testing.T, ref name.Digest) built {
	t.Helper()
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	return readIndex(t, idx)
}

// regularFiles calls fn with the name and content of each regular file of
// a tar stream.
func regularFiles(t *testing.T, r io.Reader, fn func(name string, content []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fn(strings.TrimPrefix(h.Name, "./"), b)
	}
}

// fromArchive reads an OCI archive as imgcompare does (internal/source),
// and returns its platform manifests by platform and the number of
// attestation manifests its image index lists.
func fromArchive(t *testing.T, archive string) (map[string]string, int) {
	t.Helper()
	imgs, err := source.OpenAll(context.Background(), "oci-archive:"+archive, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	platforms := map[string]string{}
	for _, img := range imgs {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		platforms[img.Platform] = d.String()
	}
	for _, img := range imgs {
		img.Close()
	}

	// The image index is the blob index.json names.
	small := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	regularFiles(t, f, func(name string, content []byte) {
		if len(content) < 64<<10 {
			small[name] = content
		}
	})
	outer, err := v1.ParseIndexManifest(bytes.NewReader(small["index.json"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(outer.Manifests) != 1 {
		t.Fatalf("%s: index.json lists %d manifests, want the one image index", archive, len(outer.Manifests))
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(small["blobs/sha256/"+outer.Manifests[0].Digest.Hex]))
	if err != nil {
		t.Fatal(err)
	}
	attestations := 0
	for _, d := range index.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			attestations++
		}
	}
	return platforms, attestations
}

// platformDigests maps each platform to its manifest digest.
func (b built) platformDigests() map[string]string {
	m := map[string]string{}
	for p, d := range b.images {
		m[p] = d.Digest.String()
	}
	return m
}

// image is one manifest of the index, by digest.
func (b built) image(t *testing.T, digest v1.Hash) v1.Image {
	t.Helper()
	img, err := b.index.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// binary writes the /echo_app of a platform image to a file.
func (b built) binary(t *testing.T, platform string) string {
	t.Helper()
	layers, err := b.image(t, b.images[platform].Digest).Layers()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "echo_app")
	found := false
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		regularFiles(t, rc, func(name string, content []byte) {
			if name != "echo_app" {
				return
			}
			found = true
			if err := os.WriteFile(dst, content, 0o755); err != nil {
				t.Fatal(err)
			}
		})
		rc.Close()
	}
	if !found {
		t.Fatalf("%s: no /echo_app in the image", platform)
	}
	return dst
}

// statement returns the in-toto statement of the given predicate type
// attached to a platform image.
func (b built) statement(t *testing.T, platform, predicateType string) (subject []struct {
	Digest map[string]string
}, predicate json.RawMessage) {
	t.Helper()
	att, ok := b.attestations[b.images[platform].Digest]
	if !ok {
		t.Fatalf("%s: no attestation manifest", platform)
	}
	img := b.image(t, att.Digest)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range m.Layers {
		if desc.Annotations["in-toto.io/predicate-type"] != predicateType {
			continue
		}
		l, err := img.LayerByDigest(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed() // the blob as stored: JSON, not compressed
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var stmt struct {
			Type          string `json:"_type"`
			PredicateType string `json:"predicateType"`
			Subject       []struct {
				Digest map[string]string
			}
			Predicate json.RawMessage
		}
		if err := json.NewDecoder(rc).Decode(&stmt); err != nil {
			t.Fatalf("%s %s: %v", platform, predicateType, err)
		}
		if !strings.HasPrefix(stmt.Type, "https://in-toto.io/Statement/") || stmt.PredicateType != predicateType {
			t.Fatalf("%s: statement of type %q, predicate %q", platform, stmt.Type, stmt.PredicateType)
		}
		return stmt.Subject, stmt.Predicate
	}
	t.Fatalf("%s: no %s attestation (layers %v)", platform, predicateType, m.Layers)
	return nil, nil
}

// TestReleaseImage builds the release image three times: twice without
// BuildKit's cache and without provenance (the first from an empty
// builder), then as make release-image does, with provenance and SBOM. It
// checks each platform's configuration and binary, runs the foreign ones
// under qemu, reads the provenance and the SBOM, compares the builds, and
// runs the pushed index from the registry.
func TestReleaseImage(t *testing.T) {
	dockertest.Require(t)
	requireRegistries(t)
	if _, err := exec.LookPath("runc"); err != nil {
		dockertest.Missing(t, "runc is not installed", "runc", "scripts/install-deps.sh")
	}
	// The builds are of one commit: the version, revision and time are read
	// once, so that a change to the work tree meanwhile does not count.
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dockertest.RepoRoot()}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	revision := git("rev-parse", "HEAD")
	commit := []string{"VERSION=" + git("describe", "--tags", "--always", "--dirty"), "REVISION=" + revision,
		"SOURCE_DATE_EPOCH=" + git("log", "-1", "--format=%ct")}
	// One tag for the two: the tag is part of the attestations' subject.
	plainRef1, _ := release(t, "test-release-plain", append(commit, "COLD=1", "NO_CACHE=1", "PROVENANCE=0")...)
	plainRef2, _ := release(t, "test-release-plain", append(commit, "NO_CACHE=1", "PROVENANCE=0")...)
	releaseRef, archive := release(t, "test-release", commit...)
	rel := pulled(t, releaseRef)

	want := map[string]struct {
		arch, variant string
		machine       elf.Machine
		goarm         string
		qemu          string
	}{
		"linux/amd64":  {"amd64", "", elf.EM_X86_64, "", ""},
		"linux/arm64":  {"arm64", "", elf.EM_AARCH64, "", "qemu-aarch64-static"},
		"linux/arm/v7": {"arm", "v7", elf.EM_ARM, "7", "qemu-arm-static"},
	}
	if len(rel.images) != len(want) {
		t.Errorf("the index has platforms %v, want %d", rel.platformDigests(), len(want))
	}
	goVersions := map[string]string{}
	for platform, w := range want {
		t.Run("platform "+platform, func(t *testing.T) {
			desc, ok := rel.images[platform]
			if !ok {
				t.Fatalf("no %s image in the index", platform)
			}
			cfg, err := rel.image(t, desc.Digest).ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.OS != "linux" || cfg.Architecture != w.arch || cfg.Variant != w.variant {
				t.Errorf("config says %s/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant)
			}
			if cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/echo_app" {
				t.Errorf("config: user %q, entrypoint %q", cfg.Config.User, cfg.Config.Entrypoint)
			}

			bin := rel.binary(t, platform)
			if machine := elfMachine(t, bin); machine != w.machine {
				t.Errorf("binary is for %v, want %v", machine, w.machine)
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			if settings["GOARCH"] != w.arch || settings["GOARM"] != w.goarm || settings["CGO_ENABLED"] != "0" {
				t.Errorf("binary built with GOARCH=%q GOARM=%q CGO_ENABLED=%q", settings["GOARCH"], settings["GOARM"], settings["CGO_ENABLED"])
			}
			if len(info.Deps) != 0 {
				t.Errorf("binary links modules beside the standard library: %v", info.Deps)
			}
			goVersions[platform] = info.GoVersion

			if w.qemu != "" {
				underQemu(t, w.qemu, bin)
			}

			subject, predicate := rel.statement(t, platform, "https://slsa.dev/provenance/v1")
			if len(subject) != 1 || "sha256:"+subject[0].Digest["sha256"] != desc.Digest.String() {
				t.Errorf("provenance subject %v, want the %s manifest %s", subject, platform, desc.Digest)
			}
			var provenance struct {
				RunDetails struct {
					Metadata struct {
						BuildKit struct {
							VCS struct{ Revision string }
						} `json:"buildkit_metadata"`
					}
				}
			}
			if err := json.Unmarshal(predicate, &provenance); err != nil {
				t.Fatal(err)
			}
			if got := provenance.RunDetails.Metadata.BuildKit.VCS.Revision; got != revision {
				t.Errorf("provenance names revision %q, want %s", got, revision)
			}

			_, predicate = rel.statement(t, platform, "https://spdx.dev/Document")
			doc, err := spdxjson.Read(bytes.NewReader(predicate))
			if err != nil {
				t.Fatalf("the SBOM is not SPDX JSON: %v", err)
			}
			var golang []string
			for _, p := range doc.Packages {
				for _, ref := range p.PackageExternalReferences {
					if !strings.HasPrefix(ref.Locator, "pkg:golang/") {
						continue
					}
					if p.PackageName == "stdlib" {
						golang = append(golang, "stdlib "+p.PackageVersion)
					} else {
						golang = append(golang, p.PackageName)
					}
				}
			}
			// The main module and the Go toolchain: the binary links no other module.
			wantPackages := []string{"github.com/rastringer/docker_multistage", "stdlib " + info.GoVersion}
			if strings.Join(sorted(golang), ", ") != strings.Join(wantPackages, ", ") {
				t.Errorf("the SBOM lists Go packages %q, want %q", golang, wantPackages)
			}
		})
	}
	t.Logf("Go versions of the binaries: %v", goVersions)

	t.Run("reproducible", func(t *testing.T) {
		plain1, plain2 := pulled(t, plainRef1), pulled(t, plainRef2)
		p1, p2, p3 := rel.platformDigests(), plain1.platformDigests(), plain2.platformDigests()
		for platform, d := range p1 {
			if p2[platform] != d || p3[platform] != d {
				t.Errorf("%s: the builds without cache give manifests %s and %s, the release %s", platform, p2[platform], p3[platform], d)
			}
		}
		if plain1.digest != plain2.digest {
			t.Errorf("two builds without cache and provenance give the indexes %s and %s", plain1.digest, plain2.digest)
		}
		t.Logf("without cache and provenance, twice: index %s, %s; with provenance: index %s; platforms %v", plain1.digest, plain2.digest, rel.digest, p1)
	})

	t.Run("archive", func(t *testing.T) {
		got, attestations := fromArchive(t, archive)
		want := rel.platformDigests()
		if len(got) != len(want) {
			t.Errorf("the OCI archive holds %v, the registry %v", got, want)
		}
		for platform, d := range want {
			if got[platform] != d {
				t.Errorf("%s: the OCI archive holds %s, the registry %s", platform, got[platform], d)
			}
		}
		if attestations != len(rel.attestations) {
			t.Errorf("the OCI archive has %d attestation manifests, the registry %d", attestations, len(rel.attestations))
		}
	})

	t.Run("pulled by digest and run", func(t *testing.T) {
		dockertest.Docker(t, "pull", "-q", releaseRef.String())
		t.Cleanup(func() { dockertest.DockerErr("rmi", releaseRef.String()) })
		if arch := dockertest.Docker(t, "image", "inspect", "--format", "{{.Architecture}}", releaseRef.String()); arch != "amd64" {
			t.Errorf("the engine pulled the %s image", arch)
		}
		_, port := runContainer(t, releaseRef.String())
		if got := greeting(t, port); got != "I love alpacas!\n" {
			t.Errorf("GET /alpacas = %q", got)
		}
	})
}
