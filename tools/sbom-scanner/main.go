// Command sbom-scanner is a BuildKit SBOM generator: BuildKit runs its image
// during `docker buildx build --sbom` with the build result mounted
// read-only, and attaches what it writes to the image as an SPDX
// attestation. It follows BuildKit's SBOM scanning protocol
// (docs/attestations/sbom-protocol.md in moby/buildkit):
//
//	BUILDKIT_SCAN_SOURCE         the root filesystem of the build result
//	BUILDKIT_SCAN_SOURCE_EXTRAS  a directory of further root filesystems (optional)
//	BUILDKIT_SCAN_DESTINATION    where to write <name>.spdx.json, one in-toto
//	                             statement per filesystem
//
// Each filesystem is catalogued by Syft, the scanner BuildKit's default
// generator (docker/buildkit-syft-scanner) wraps, with the catalogers Syft
// uses for container images. The module proxy does not serve that
// generator, so this program plays its part.
//
// With SOURCE_DATE_EPOCH set (in the image, or as the parameter
// BUILDKIT_SCAN_SOURCE_DATE_EPOCH, which `--attest
// type=sbom,SOURCE_DATE_EPOCH=...` passes), the document's creation time is
// that instant and its namespace is derived from its content, so the same
// filesystem gives the same bytes.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging"
	"github.com/anchore/syft/syft/cataloging/pkgcataloging"
	"github.com/anchore/syft/syft/format/spdxjson"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	_ "modernc.org/sqlite" // the driver Syft reads newer RPM databases with
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "sbom-scanner:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dest, err := dir("BUILDKIT_SCAN_DESTINATION", true)
	if err != nil {
		return err
	}
	core, err := dir("BUILDKIT_SCAN_SOURCE", true)
	if err != nil {
		return err
	}
	targets := []string{core}
	extras, err := dir("BUILDKIT_SCAN_SOURCE_EXTRAS", false)
	if err != nil {
		return err
	}
	if extras != "" {
		entries, err := os.ReadDir(extras)
		if err != nil {
			return err
		}
		for _, e := range entries {
			targets = append(targets, filepath.Join(extras, e.Name()))
		}
	}
	epoch, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	for _, t := range targets {
		doc, err := scan(ctx, t, epoch)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		// BuildKit's scanner protocol reads in-toto v0.1 statements, which
		// the attestation module's v1 Statement does not write.
		//lint:ignore SA1019 the v0.1 statement is the format BuildKit reads
		stmt := intoto.Statement{
			//lint:ignore SA1019 as above
			StatementHeader: intoto.StatementHeader{
				Type:          intoto.StatementInTotoV01,
				PredicateType: intoto.PredicateSPDX,
			},
			Predicate: json.RawMessage(doc),
		}
		out, err := json.Marshal(stmt)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dest, filepath.Base(t)+".spdx.json"), append(out, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// dir returns the directory an environment variable names. An optional
// variable that is unset, empty or names nothing gives "".
func dir(name string, required bool) (string, error) {
	p := os.Getenv(name)
	if p == "" {
		if required {
			return "", fmt.Errorf("%s is not set", name)
		}
		return "", nil
	}
	if _, err := os.Stat(p); err != nil {
		if !required && errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

func sourceDateEpoch() (*time.Time, error) {
	for _, name := range []string{"BUILDKIT_SCAN_SOURCE_DATE_EPOCH", "SOURCE_DATE_EPOCH"} {
		v := os.Getenv(name)
		if v == "" {
			continue
		}
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s < 0 {
			return nil, fmt.Errorf("%s=%q is not a count of seconds", name, v)
		}
		t := time.Unix(s, 0).UTC()
		return &t, nil
	}
	return nil, nil
}

// scan catalogues one root filesystem and returns its SPDX JSON document.
func scan(ctx context.Context, root string, epoch *time.Time) ([]byte, error) {
	src, err := syft.GetSource(ctx, root, syft.DefaultGetSourceConfig().WithSources("dir"))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	cfg := syft.DefaultCreateSBOMConfig().
		WithTool("syft", syftVersion()).
		WithCatalogerSelection(cataloging.NewSelectionRequest().WithDefaults(pkgcataloging.ImageTag))
	s, err := syft.CreateSBOM(ctx, src, cfg)
	if err != nil {
		return nil, err
	}
	enc, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := enc.Encode(&buf, *s); err != nil {
		return nil, err
	}
	if epoch == nil {
		return buf.Bytes(), nil
	}
	return reproducible(buf.Bytes(), *epoch)
}

// reproducible replaces the two fields of an SPDX document that change from
// run to run: the creation time becomes epoch, and the random part of the
// namespace a digest of everything else.
func reproducible(doc []byte, epoch time.Time) ([]byte, error) {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	info, ok := d["creationInfo"].(map[string]any)
	if !ok {
		return nil, errors.New("SPDX document has no creationInfo")
	}
	info["created"] = epoch.Format(time.RFC3339)
	ns, _ := d["documentNamespace"].(string)
	d["documentNamespace"] = ""
	rest, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(rest)
	// syft's namespaces are a URL whose last element ends in a random UUID.
	if j := strings.LastIndex(ns, "/"); j >= 0 {
		ns = ns[:j+1]
	}
	d["documentNamespace"] = fmt.Sprintf("%s%x", ns, sum[:16])
	return json.Marshal(d)
}

func syftVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/anchore/syft" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
