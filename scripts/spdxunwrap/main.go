// Command spdxunwrap writes the SPDX document an in-toto statement carries
// as its predicate (what BuildKit's SBOM generators write), on its own, as
// release assets ship it. With -root, the directory the scanned files were
// in is taken out of the document's names, and the namespace's last part
// becomes a digest of the rest, so that the document does not depend on
// where the files were scanned.
//
//	go run ./scripts/spdxunwrap [-root DIR] < STATEMENT.spdx.json > BINARY.spdx.json
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	root := flag.String("root", "", "a directory to take out of the document's names")
	flag.Parse()
	in, err := io.ReadAll(os.Stdin)
	if err == nil {
		err = unwrap(in, *root, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "spdxunwrap:", err)
		os.Exit(1)
	}
}

func unwrap(in []byte, root string, w io.Writer) error {
	var stmt struct {
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(in, &stmt); err != nil {
		return err
	}
	if stmt.PredicateType != "https://spdx.dev/Document" {
		return fmt.Errorf("predicate type %q, not SPDX", stmt.PredicateType)
	}
	doc := stmt.Predicate
	if root != "" {
		root = strings.TrimSuffix(root, "/")
		// As a path, and as SPDX identifiers spell it.
		doc = bytes.ReplaceAll(doc, []byte(root), nil)
		doc = bytes.ReplaceAll(doc, []byte(strings.ReplaceAll(root, "/", "-")), nil)
		var d map[string]any
		if err := json.Unmarshal(doc, &d); err != nil {
			return err
		}
		ns, _ := d["documentNamespace"].(string)
		i := strings.LastIndex(ns, "/")
		if i < 0 {
			return errors.New("the document has no namespace")
		}
		d["documentNamespace"] = ""
		rest, err := json.Marshal(d)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(rest)
		d["documentNamespace"] = ns[:i+1] + hex.EncodeToString(sum[:16])
		if doc, err = json.Marshal(d); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}
