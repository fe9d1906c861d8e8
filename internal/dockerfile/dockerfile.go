// Package dockerfile names the Dockerfile line behind each layer of an
// image: it parses the Dockerfile with BuildKit's own parser, takes the
// stage the image was built from, and matches its instructions that make
// layers to the layers' history, in order, from the top.
package dockerfile

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Line is the instruction behind a layer.
type Line struct {
	File string // the Dockerfile, as named
	Line int    // from 1; 0 for a layer of the base image
	Text string // the instruction as the Dockerfile writes it, on one line
}

func (l Line) String() string {
	if l.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d %s", l.File, l.Line, l.Text)
}

// Instruction reads the instruction a layer's history names (created_by)
// as the classic builder writes it ("/bin/sh -c #(nop)  COPY file:… in /
// " for a metadata or copy step, "/bin/sh -c CMD" for RUN, "|1 ARG=v
// /bin/sh -c CMD" with build arguments) and as BuildKit does ("RUN
// /bin/sh -c CMD # buildkit", "COPY . . # buildkit"): its keyword, upper
// case, and the rest. An empty history gives "".
func Instruction(createdBy string) (keyword, rest string) {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(createdBy), "# buildkit"))
	if s == "" {
		return "", ""
	}
	// Build arguments the classic builder puts first: |N A=1 B=2 …
	if strings.HasPrefix(s, "|") {
		if i := strings.Index(s, "/bin/sh -c "); i >= 0 {
			s = s[i:]
		}
	}
	if after, ok := strings.CutPrefix(s, "/bin/sh -c "); ok {
		if nop, ok := strings.CutPrefix(strings.TrimSpace(after), "#(nop)"); ok {
			s = strings.TrimSpace(nop)
		} else {
			return "RUN", strings.TrimSpace(after)
		}
	}
	keyword, rest, _ = strings.Cut(s, " ")
	keyword = strings.ToUpper(keyword)
	if keyword == "RUN" {
		rest = strings.TrimSpace(rest)
		if i := strings.Index(rest, "/bin/sh -c "); strings.HasPrefix(rest, "|") && i >= 0 {
			rest = rest[i:] // the build arguments BuildKit puts first
		}
		rest = strings.TrimPrefix(rest, "/bin/sh -c ")
	}
	return keyword, strings.TrimSpace(rest)
}

// Match names the Dockerfile line of each layer whose history says it
// was made by the stage target of the Dockerfile at path ("" for the
// last stage): the stage's RUN, COPY and ADD instructions, and its
// WORKDIR ones where they made a layer, are matched to the history from
// the top, by keyword. The layers below them are the base image's, with
// no line. A Dockerfile that does not match (another order, another
// count) is an error that says where, so that no layer is given a wrong
// line.
func Match(path, target string, createdBy []string) ([]Line, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s has no stage", path)
	}
	stage := stages[len(stages)-1]
	if target != "" {
		found := false
		for _, s := range stages {
			if strings.EqualFold(s.Name, target) {
				stage, found = s, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s has no stage %q", path, target)
		}
	}
	type step struct {
		keyword string
		line    int
		text    string
	}
	var steps []step
	for _, c := range stage.Commands {
		keyword := strings.ToUpper(c.Name())
		switch keyword {
		case "RUN", "COPY", "ADD", "WORKDIR":
		default:
			continue
		}
		line := 0
		if loc := c.Location(); len(loc) > 0 {
			line = loc[0].Start.Line
		}
		steps = append(steps, step{keyword, line, strings.Join(strings.Fields(fmt.Sprint(c)), " ")})
	}
	out := make([]Line, len(createdBy))
	j := len(steps) - 1
	for i := len(createdBy) - 1; i >= 0 && j >= 0; i-- {
		keyword, _ := Instruction(createdBy[i])
		for j >= 0 && steps[j].keyword == "WORKDIR" && keyword != "WORKDIR" {
			j-- // a WORKDIR whose directory was there makes no layer
		}
		if j < 0 {
			break
		}
		if keyword != steps[j].keyword {
			return nil, fmt.Errorf("%s does not match the image: layer %d was made by %s where the Dockerfile has %s at line %d (another Dockerfile, stage or order?)",
				path, i+1, orUnknown(keyword), steps[j].keyword, steps[j].line)
		}
		out[i] = Line{File: path, Line: steps[j].line, Text: steps[j].text}
		j--
	}
	for ; j >= 0; j-- {
		if steps[j].keyword != "WORKDIR" {
			return nil, fmt.Errorf("%s does not match the image: its %s at line %d has no layer left to match (the image has fewer layers than the stage makes)", path, steps[j].keyword, steps[j].line)
		}
	}
	return out, nil
}

func orUnknown(keyword string) string {
	if keyword == "" {
		return "an instruction its history does not name"
	}
	return keyword
}
