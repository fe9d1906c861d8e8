package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestUnwrap(t *testing.T) {
	statement := func(root string) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":null,` +
			`"predicate":{"spdxVersion":"SPDX-2.3","name":"` + root + `/app","documentNamespace":"https://anchore.com/syft/dir` + root + `/app-1234",` +
			`"packages":[{"SPDXID":"SPDXRef-DocumentRoot-Directory-` + strings.ReplaceAll(root, "/", "-") + `-app"}]}}`)
	}
	var a, b bytes.Buffer
	if err := unwrap(statement("/tmp/tmp.AAAA/extras"), "/tmp/tmp.AAAA/extras", &a); err != nil {
		t.Fatal(err)
	}
	if err := unwrap(statement("/tmp/tmp.BBBB/extras"), "/tmp/tmp.BBBB/extras/", &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("documents scanned in two directories differ:\n%s\n%s", a.Bytes(), b.Bytes())
	}
	if bytes.Contains(a.Bytes(), []byte("tmp")) {
		t.Errorf("the scan directory is still named:\n%s", a.Bytes())
	}
	var doc map[string]any
	if err := json.Unmarshal(a.Bytes(), &doc); err != nil || doc["name"] != "/app" || doc["spdxVersion"] != "SPDX-2.3" {
		t.Errorf("document %v, %v", doc, err)
	}
	if err := unwrap([]byte(`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{}}`), "", &a); err == nil {
		t.Error("a provenance statement was taken for SPDX")
	}
}
