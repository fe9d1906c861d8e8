package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/diff"
	"github.com/rastringer/docker_multistage/internal/report"
	"github.com/rastringer/docker_multistage/internal/source"
)

const diffUsageHead = `Usage: imgcompare diff [flags] IMAGE-A IMAGE-B

Shows what changed from IMAGE-A to IMAGE-B: files added, removed and
changed (size, mode, owner, type, link target, content digest), largest
change first, with totals per top-level directory; their layers side by
side; and the configuration a container runs with (platform, user,
entrypoint, cmd, env, exposed ports, labels, health check). Timestamps are
not compared. IMAGE is named as for imgcompare (see imgcompare -help).

Exit status, as diff(1): 0 identical files and configuration, 1 different,
2 trouble (bad flags, an image that cannot be read).

Flags:
`

// diffStatus is diff(1)'s exit status for images that differ.
const diffStatus = 1

// runDiff is imgcompare diff.
func runDiff(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, tempDir *scratchDir) error {
	var ig diff.Ignore
	o := &options{format: "table", largest: 20, tempDir: tempDir, progress: "auto"}
	fs := flag.NewFlagSet("imgcompare diff", flag.ContinueOnError)
	addProgressFlags(fs, o)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.format, "o", o.format, "output `format`: "+strings.Join(report.DiffFormats, ", "))
	fs.IntVar(&o.largest, "largest", o.largest, "how many changed files the table and markdown list (JSON lists all)")
	fs.Func("ignore", "leave out of the comparison: a path `pattern` (/var/cache/*, covering what is under a match), label:KEY, env:NAME, or a field ("+strings.Join(diff.Fields, ", ")+"); repeatable", ig.Add)
	fs.Func("platform", "pick this `os/arch[/variant]` from multi-platform images", func(s string) (err error) {
		o.platform, err = source.ParsePlatform(s)
		return err
	})
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to a registry that is not on this machine")
	fs.BoolVar(&o.manifestOnly, "manifest-only", false, "read only the manifests and configs, no layer: configuration, layers and what a pull downloads (sources that store compressed layers)")
	var images []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, diffUsageHead)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return nil
			}
			return usageError("diff: %v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		images = append(images, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch {
	case len(images) != 2:
		return usageError("diff: want two images, got %d", len(images))
	case !contains(report.DiffFormats, o.format):
		return usageError("diff: unknown format %q: want one of %s", o.format, strings.Join(report.DiffFormats, ", "))
	case o.largest < 0:
		return usageError("diff: -largest %d: want zero or more", o.largest)
	case images[0] == "-" && images[1] == "-":
		return usageError("diff: stdin (-) can be read only once")
	}

	var read [2]*analysis.Image
	var files [2]map[string]analysis.FileInfo
	for i, arg := range images {
		files[i] = map[string]analysis.FileInfo{}
		img, err := analyse(ctx, arg, stdin, stderr, o, files[i])
		if err != nil {
			return &exitError{exitUsage, err}
		}
		read[i] = img
	}
	result := diff.Compare(read[0], read[1], files[0], files[1], ig)
	var out bytes.Buffer
	if err := report.WriteDiff(&out, o.format, result, o.largest); err != nil {
		return &exitError{exitUsage, err}
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return err
	}
	if !result.Identical() {
		return &exitError{code: diffStatus}
	}
	return nil
}
