package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstruction(t *testing.T) {
	for createdBy, want := range map[string]string{
		// BuildKit
		"RUN /bin/sh -c go install -trimpath ./cmd/echo_app # buildkit": "RUN go install -trimpath ./cmd/echo_app",
		"COPY . . # buildkit":                         "COPY . .",
		"WORKDIR /go/src/echo_app":                    "WORKDIR /go/src/echo_app",
		"RUN |1 VERSION=1 /bin/sh -c make # buildkit": "RUN make",
		// the classic builder
		"/bin/sh -c chown -R 1000 /data":                 "RUN chown -R 1000 /data",
		"/bin/sh -c #(nop) COPY file:2bd3 in /data/big ": "COPY file:2bd3 in /data/big",
		"/bin/sh -c #(nop)  CMD [\"sh\"]":                "CMD [\"sh\"]",
		"|2 A=1 B=2 /bin/sh -c make":                     "RUN make",
		"":                                               "",
	} {
		k, rest := Instruction(createdBy)
		if got := strings.TrimSpace(k + " " + rest); got != want {
			t.Errorf("Instruction(%q) = %q, want %q", createdBy, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "Dockerfile")
	os.WriteFile(file, []byte(`ARG BASE=alpine
FROM golang AS build
RUN go build -o /app .

FROM ${BASE}
WORKDIR /srv
# a comment
COPY --from=build /app /app
RUN chown -R 1000 \
    /srv
EXPOSE 8080
CMD ["/app"]
`), 0o644)
	buildkit := []string{"", "", "WORKDIR /srv", "COPY /app /app # buildkit", "RUN /bin/sh -c chown -R 1000     /srv # buildkit"}
	lines, err := Match(file, "", buildkit)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.String())
	}
	want := []string{"", "", file + ":6 WORKDIR /srv", file + ":8 COPY --from=build /app /app", file + ":9 RUN chown -R 1000 /srv"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A WORKDIR whose directory was there makes no layer.
	if lines, err := Match(file, "", []string{"", "COPY /app /app # buildkit", "RUN /bin/sh -c chown # buildkit"}); err != nil || lines[1].Line != 8 || lines[2].Line != 9 {
		t.Errorf("without WORKDIR's layer: %v %v", lines, err)
	}
	// --target picks the build stage.
	if lines, err := Match(file, "build", []string{"", "RUN /bin/sh -c go build -o /app . # buildkit"}); err != nil || lines[1].Line != 3 {
		t.Errorf("--target build: %v %v", lines, err)
	}
	for _, c := range []struct {
		target    string
		createdBy []string
		want      string
	}{
		{"", []string{"", "RUN /bin/sh -c x # buildkit", "COPY a b # buildkit"}, "layer 3 was made by COPY where the Dockerfile has RUN at line 9"},
		{"", []string{"RUN /bin/sh -c chown # buildkit"}, "its COPY at line 8 has no layer left"},
		{"nothere", buildkit, `has no stage "nothere"`},
	} {
		if _, err := Match(file, c.target, c.createdBy); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Match(%v): %v, want %q", c.createdBy, err, c.want)
		}
	}
	if _, err := Match(filepath.Join(dir, "none"), "", buildkit); err == nil {
		t.Error("a missing Dockerfile gave no error")
	}
}
