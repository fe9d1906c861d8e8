package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rastringer/docker_multistage/internal/analysis"
	"github.com/rastringer/docker_multistage/internal/budget"
	"github.com/rastringer/docker_multistage/internal/dockerfile"
	"github.com/rastringer/docker_multistage/internal/report"
	"github.com/rastringer/docker_multistage/internal/size"
	"github.com/rastringer/docker_multistage/internal/source"
)

// Exit statuses.
const (
	exitBudget = 1 // a budget rule failed
	exitUsage  = 2 // bad flags, or an image that cannot be read
)

// exitError carries an exit status; err, when not nil, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format+" (see imgcompare -help)", a...)}
}

const usageHead = `Usage: imgcompare [flags] IMAGE [IMAGE...]
       imgcompare diff [flags] IMAGE-A IMAGE-B   (imgcompare diff -help)

Compares container images: uncompressed size (as docker images shows it),
compressed size (as a registry stores it), layers, files, wasted space and
efficiency as dive computes them, and findings: a shell, a package manager,
a toolchain, root, setuid and world-writable files. The first IMAGE is the
baseline the others are compared against.

IMAGE names a source as skopeo and podman do:
  docker://HOST/REPO:TAG     an image in a registry (credentials from docker login)
  docker-daemon:REF          an image in the local Docker engine
  docker-archive:PATH[:REF]  a docker save tarball (gzipped too)
  oci-archive:PATH[:REF]     a tar of an OCI layout (buildx --output type=oci)
  oci:PATH[:REF]             an OCI image layout directory
  dir:PATH                   skopeo's directory of one image (skopeo copy … dir:PATH)
REF picks one image of several: a tag, a digest or @N (the Nth, from 0).
A bare IMAGE is "-" (a tarball on stdin), an existing file (a slash or a
.tar ending; docker save or OCI archive, by content) or directory (an OCI
layout), PATH:REF, or else an image in the local Docker engine; a name that
reads as a path and does not exist is an error. Only docker:// reaches the
network: plain HTTP for localhost and loopback registries, HTTPS for others
unless --insecure.

The compressed size is stored (the source holds compressed layers), or,
for layers stored uncompressed (the engine, docker save), estimated from
samples of gzip level 6, within 2% on real images; --exact-compressed, or
any --max-compressed-size, computes it exactly.

Budget rules apply to the only image, or to every image after the baseline;
each broken rule prints one line to stderr and the exit status is 1.
Exit status 2 means bad flags or an image that could not be read: a layer
that does not match its diff_id, or an entry outside the image's root.

Flags:
`

type options struct {
	format       string
	largest      int
	packages     int
	platform     *v1.Platform
	exact        bool
	insecure     bool
	manifestOnly bool
	allPlatforms bool
	dockerfile   string // --dockerfile: names each layer's line
	target       string // --target: its stage
	version      bool
	progress     string // auto, always or never
	rules        budget.Rules
	reports      []reportFile // --report: more formats, to files
	bases        []string     // --base: base images, by their layers
	images       []string
	tempDir      *scratchDir // for the sources' temporary copies
}

// reportFile is a format to write to a file as well as -o's to stdout.
type reportFile struct{ format, path string }

// scratchDir is the one directory under TMPDIR that a run's temporary
// copies go into, made when the first is needed (a run that needs none
// works with a read-only TMPDIR) and removed by run.
type scratchDir struct {
	once sync.Once
	dir  string
	err  error
}

func (s *scratchDir) get() (string, error) {
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "imgcompare-*"); s.err != nil {
			s.err = fmt.Errorf("making a temporary directory: %w", s.err)
		}
	})
	return s.dir, s.err
}

func (s *scratchDir) remove() {
	s.once.Do(func() {}) // none is made after this
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func parseOptions(args []string, stdout io.Writer) (*options, error) {
	o := &options{progress: "auto"}
	fs := flag.NewFlagSet("imgcompare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.format, "o", "table", "output `format`: "+strings.Join(report.Formats, ", "))
	fs.Func("report", "also write the report in `format=path` (json=report.json, junit=junit.xml), once per file; the images are read once", func(s string) error {
		format, path, ok := strings.Cut(s, "=")
		if !ok || path == "" || !contains(report.Formats, format) {
			return fmt.Errorf("want FORMAT=PATH with a format of %s, not %q", strings.Join(report.Formats, ", "), s)
		}
		o.reports = append(o.reports, reportFile{format, path})
		return nil
	})
	fs.IntVar(&o.largest, "largest", 5, "how many of the largest files to list per image")
	fs.IntVar(&o.packages, "packages", 10, "how many of the largest packages, and unowned directories, to list per image")
	fs.Func("platform", "pick this `os/arch[/variant]` from a multi-platform image (default: this machine's, then linux/amd64)", func(s string) (err error) {
		o.platform, err = source.ParsePlatform(s)
		return err
	})
	fs.BoolVar(&o.insecure, "insecure", false, "allow plain HTTP to a registry that is not on this machine")
	fs.BoolVar(&o.manifestOnly, "manifest-only", false, "read only the manifest and config, no layer: compressed size, layers, platform, user, command, labels (sources that store compressed layers)")
	addProgressFlags(fs, o)
	fs.BoolVar(&o.version, "version", false, "print the version, the commit it was built from and the Go version, and exit")
	fs.StringVar(&o.dockerfile, "dockerfile", "", "name each layer's line of this `Dockerfile` (its last stage, or --target's), matched to the layers' history")
	fs.StringVar(&o.target, "target", "", "the `stage` of --dockerfile the image was built from (default: the last)")
	fs.BoolVar(&o.allPlatforms, "all-platforms", false, "compare every platform of a multi-platform image, one row each")
	fs.BoolVar(&o.exact, "exact-compressed", false, "compute the compressed size of layers stored uncompressed exactly (gzip level 6) rather than estimate it")
	fs.Func("max-size", "fail when an image's uncompressed `size` exceeds this (8MB, 6.5MiB)", func(s string) (err error) {
		o.rules.MaxSize, err = size.Parse(s)
		return err
	})
	fs.Func("max-compressed-size", "fail when an image's compressed `size` exceeds this", func(s string) (err error) {
		o.rules.MaxCompressedSize, err = size.Parse(s)
		return err
	})
	fs.Func("min-reduction", "fail when an image is not at least this much smaller than the baseline (`percent`, 95%)", func(s string) (err error) {
		o.rules.MinReduction, err = budget.ParsePercent(s)
		return err
	})
	fs.Func("min-efficiency", "fail when an image's efficiency, as dive computes it, is below this (`share`: 95% or 0.95)", func(s string) (err error) {
		o.rules.MinEfficiency, err = budget.ParseFraction(s, false)
		return err
	})
	fs.Func("max-wasted-bytes", "fail when an image wastes more than this `size`, as dive counts it", func(s string) (err error) {
		n, err := size.ParseOrZero(s)
		o.rules.MaxWastedBytes = &n
		return err
	})
	fs.Func("max-wasted-percent", "fail when an image wastes more than this `share` of its layers above the first, as dive counts it (10% or 0.1)", func(s string) (err error) {
		o.rules.MaxWastedShare, err = budget.ParseFraction(s, true)
		return err
	})
	fs.Func("max-reclaimable", "fail when what an image's build could give back (hidden and reclaimable bytes, see what to change) exceeds this `size` or share of its size (50MB, 10%)", func(s string) (err error) {
		o.rules.MaxReclaimable, o.rules.MaxReclaimableShare, err = budget.ParseSizeOrShare(s, false)
		return err
	})
	fs.Func("forbid", "fail when an image has any of these `findings`: "+analysis.KindNames(), func(s string) (err error) {
		o.rules.Forbid, err = budget.ParseForbid(s)
		return err
	})
	fs.Func("max-growth", "fail when an image grows over the baseline (the first image) by more than this `size` or share of the baseline's size (5MB, 10%); the message names what grew most", func(s string) (err error) {
		o.rules.MaxGrowth, o.rules.MaxGrowthShare, err = budget.ParseSizeOrShare(s, true)
		return err
	})
	fs.Func("base", "the base `image` the images were built on: its layers are reported apart from their own (repeatable, for a baseline and a candidate on different bases; default: the layers an image shares with the baseline)", func(s string) error {
		o.bases = append(o.bases, s)
		return nil
	})
	fs.Func("forbid-package", "fail when an image holds any of these `packages`, by name (gcc-12,openssh-server)", func(s string) error {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.rules.ForbidPackages = append(o.rules.ForbidPackages, name)
			}
		}
		if len(o.rules.ForbidPackages) == 0 {
			return errors.New("empty list of packages")
		}
		return nil
	})

	// Flags may stand before, between or after the images.
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usageHead)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return nil, flag.ErrHelp
			}
			return nil, usageError("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		o.images = append(o.images, fs.Arg(0))
		rest = fs.Args()[1:]
	}

	if o.version {
		fmt.Fprint(stdout, versionText())
		return nil, flag.ErrHelp
	}
	if len(o.images) == 0 {
		return nil, usageError("no image given")
	}
	if !contains(report.Formats, o.format) {
		return nil, usageError("unknown format %q: want one of %s", o.format, strings.Join(report.Formats, ", "))
	}
	if o.largest < 0 {
		return nil, usageError("-largest %d: want zero or more", o.largest)
	}
	if o.packages < 0 {
		return nil, usageError("-packages %d: want zero or more", o.packages)
	}
	if o.manifestOnly && (o.rules.MaxSize > 0 || o.rules.MinReduction != 0 || o.rules.MinEfficiency != nil || o.rules.MaxWastedBytes != nil ||
		o.rules.MaxWastedShare != nil || o.rules.MaxReclaimable != nil || o.rules.MaxReclaimableShare != nil || len(o.rules.ForbidPackages) > 0 ||
		o.rules.MaxGrowth != nil || o.rules.MaxGrowthShare != nil || slices.ContainsFunc(o.rules.Forbid, func(k analysis.Kind) bool { return k != analysis.Root })) {
		return nil, usageError("--manifest-only reads no layer: only --max-compressed-size and --forbid root can be checked")
	}
	if o.allPlatforms && o.platform != nil {
		return nil, usageError("--all-platforms and --platform exclude each other")
	}
	if o.rules.MinReduction != 0 && len(o.images) < 2 {
		return nil, usageError("--min-reduction needs a baseline and at least one image to compare with it")
	}
	stdinUses := 0
	for _, img := range o.images {
		if img == "-" {
			stdinUses++
		}
	}
	if stdinUses > 1 {
		return nil, usageError("stdin (-) can be read only once")
	}
	return o, nil
}

// addProgressFlags adds --progress and --quiet, which both commands take.
func addProgressFlags(fs *flag.FlagSet, o *options) {
	fs.Func("progress", "show how far the reading is on stderr: `auto` (when stderr is a terminal, the default), always or never", func(s string) error {
		if s != "auto" && s != "always" && s != "never" {
			return fmt.Errorf("want auto, always or never, not %q", s)
		}
		o.progress = s
		return nil
	})
	fs.BoolFunc("quiet", "show no progress (--progress never)", func(string) error {
		o.progress = "never"
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// run is imgcompare: it reads every image first, so that an error leaves
// nothing half-printed on stdout, then prints the report and checks the
// budget.
//
// Temporary copies go into one directory that run removes before it
// returns, whatever the outcome: reads stop when ctx is cancelled (a
// signal), so run returns promptly then too.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	scratch := &scratchDir{}
	defer scratch.remove()
	if len(args) > 1 && args[1] == "diff" {
		return runDiff(ctx, args[2:], stdin, stdout, stderr, scratch)
	}
	o, err := parseOptions(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	o.tempDir = scratch

	images := make([]*analysis.Image, 0, len(o.images))
	for _, arg := range o.images {
		if !o.allPlatforms {
			img, err := analyse(ctx, arg, stdin, stderr, o, nil)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			images = append(images, img)
			continue
		}
		all, err := source.OpenAll(ctx, arg, o.sourceOptions(arg, stdin, stderr))
		if err != nil {
			return &exitError{exitUsage, err}
		}
		for _, opened := range all {
			img, err := analyseOpened(ctx, arg, opened, stderr, o, nil)
			opened.Close()
			if err != nil {
				return &exitError{exitUsage, err}
			}
			images = append(images, img)
		}
	}

	if err := markBases(ctx, images, stdin, stderr, o); err != nil {
		return &exitError{exitUsage, err}
	}
	results := budget.Evaluate(images, o.rules)
	violations := budget.Violations(results)
	var out bytes.Buffer
	if err := report.Write(&out, o.format, images, results); err != nil {
		return &exitError{exitUsage, err}
	}
	for _, f := range o.reports {
		var b bytes.Buffer
		if err := report.Write(&b, f.format, images, results); err != nil {
			return &exitError{exitUsage, err}
		}
		if err := os.WriteFile(f.path, b.Bytes(), 0o644); err != nil {
			return &exitError{exitUsage, fmt.Errorf("--report: %w", err)}
		}
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return err
	}
	for _, v := range violations {
		fmt.Fprintf(stderr, "imgcompare: budget: %s\n", v)
	}
	if len(violations) > 0 {
		return &exitError{code: exitBudget}
	}
	return nil
}

// analyse opens and analyses one image. When files is not nil, it
// receives every path of the image's filesystem with its content digest,
// for a diff.
// sourceOptions are the options to open the image arg names: what it
// works around is said on stderr, a line each, naming arg.
func (o *options) sourceOptions(arg string, stdin io.Reader, stderr io.Writer) source.Options {
	return source.Options{
		Platform: o.platform, Stdin: stdin, Insecure: o.insecure, TempDir: o.tempDir.get,
		Warn: func(s string) { fmt.Fprintf(stderr, "imgcompare: %s: %s\n", arg, s) },
	}
}

func analyse(ctx context.Context, arg string, stdin io.Reader, stderr io.Writer, o *options, files map[string]analysis.FileInfo) (*analysis.Image, error) {
	opened, err := source.Open(ctx, arg, o.sourceOptions(arg, stdin, stderr))
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	return analyseOpened(ctx, arg, opened, stderr, o, files)
}

func analyseOpened(ctx context.Context, arg string, opened *source.Image, stderr io.Writer, o *options, files map[string]analysis.FileInfo) (*analysis.Image, error) {
	p := newProgress(stderr, arg, o.progress)
	defer p.done()
	// Stored sizes are exact and free. Otherwise the size is computed;
	// exactly when asked, or when a budget gates on it.
	compression := analysis.Estimated
	switch {
	case opened.StoredSizes:
		compression = analysis.Stored
	case o.exact || o.rules.MaxCompressedSize > 0:
		compression = analysis.Computed
	}
	opts := analysis.Options{
		Largest:      o.largest,
		Packages:     o.packages,
		Tree:         o.wants("html"),
		Compression:  compression,
		Progress:     p.update,
		ManifestOnly: o.manifestOnly,
	}
	if files != nil {
		opts.FileDigests = true
		opts.Files = func(f analysis.FileInfo) { files[f.Path] = f }
	}
	img, err := analysis.Analyze(ctx, opened.Image, opts)
	if err != nil {
		return nil, fmt.Errorf("analysing %s: %w", arg, err)
	}
	img.Name = arg
	if arg == "-" {
		img.Name = "(stdin)"
	}
	img.Source = opened.Transport
	if opened.StoredSizes {
		// A build may name its base image in the manifest's annotations.
		if m, err := opened.Manifest(); err == nil {
			img.BaseName, img.BaseDigest = m.Annotations[baseNameAnnotation], m.Annotations[baseDigestAnnotation]
		}
	}
	if opened.Platform != "" {
		img.Name += " [" + opened.Platform + "]"
	}
	nameLines(img, o, stderr)
	img.Advice = analysis.Advise(img)
	return img, nil
}

// nameLines gives each layer, with --dockerfile, its Dockerfile line; a
// Dockerfile that does not match the image is said on stderr, and the
// layers keep the instructions their history names.
func nameLines(img *analysis.Image, o *options, stderr io.Writer) {
	if o.dockerfile == "" {
		return
	}
	createdBy := make([]string, len(img.Layers))
	for i, l := range img.Layers {
		createdBy[i] = l.CreatedBy
	}
	lines, err := dockerfile.Match(o.dockerfile, o.target, createdBy)
	if err != nil {
		fmt.Fprintf(stderr, "imgcompare: %s: --dockerfile: %v; the layers are named by their history\n", img.Name, err)
		return
	}
	for i, line := range lines {
		if line.Line > 0 {
			img.Layers[i].Dockerfile, img.Layers[i].Line, img.Layers[i].Instruction = line.File, line.Line, line.Text
		}
	}
}

// progress shows how far the reading of an image is, on stderr: the
// layer, the bytes read and the rate. --progress auto (the default) shows
// it when stderr is a terminal, on one line redrawn in place and cleared
// at the end; always shows it anywhere, as a line a second on a log;
// never (or --quiet) does not. Nothing of it goes to stdout.
type progress struct {
	w         io.Writer // nil: no progress
	terminal  bool
	name      string
	start     time.Time
	last      time.Time
	lastLayer int
	printed   bool
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func newProgress(stderr io.Writer, name, mode string) *progress {
	terminal := isTerminal(stderr)
	if mode == "never" || mode == "auto" && !terminal {
		return &progress{}
	}
	return &progress{w: stderr, terminal: terminal, name: name, start: time.Now()}
}

func (p *progress) update(a analysis.Progress) {
	if p.w == nil {
		return
	}
	now := time.Now()
	every := 100 * time.Millisecond
	if !p.terminal {
		every = time.Second
	}
	if p.printed && a.Layer == p.lastLayer && !a.Compressing && now.Sub(p.last) < every {
		return
	}
	line := fmt.Sprintf("imgcompare: reading %s: layer %d of %d, %s read", p.name, a.Layer, a.Layers, size.Format(a.Read))
	if elapsed := now.Sub(p.start).Seconds(); elapsed > 0.05 {
		line += fmt.Sprintf(", %s/s", size.Format(int64(float64(a.Read)/elapsed)))
	}
	if a.Compressing {
		line = fmt.Sprintf("imgcompare: reading %s: %d layers read (%s), compressing", p.name, a.Layers, size.Format(a.Read))
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.printed, p.last, p.lastLayer = true, now, a.Layer
}

func (p *progress) done() {
	if p.printed && p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// The annotations a build may write into an image's manifest to name the
// image it was built on (OCI image spec, annotations.md).
const (
	baseNameAnnotation   = "org.opencontainers.image.base.name"
	baseDigestAnnotation = "org.opencontainers.image.base.digest"
)

// markBases says which bottom layers of each image are a base image's:
// those it shares with the --base image it shares most with; with none
// given, those it shares with the base its manifest's annotations name,
// read from its registry, or failing that with the baseline.
func markBases(ctx context.Context, images []*analysis.Image, stdin io.Reader, stderr io.Writer, o *options) error {
	if len(o.bases) > 0 {
		bases := map[string][]string{}
		for _, arg := range o.bases {
			ids, err := diffIDsOf(ctx, arg, stdin, stderr, o)
			if err != nil {
				return fmt.Errorf("--base: %w", err)
			}
			bases[arg] = ids
		}
		for _, img := range images {
			for _, arg := range o.bases {
				if n := analysis.SharedLayers(img, bases[arg]); n > img.BaseLayers {
					img.BaseLayers, img.BaseFrom = n, "--base "+arg
				}
			}
		}
		return nil
	}
	if len(images) > 1 {
		var ids []string
		for _, l := range images[0].Layers {
			ids = append(ids, l.DiffID)
		}
		for _, img := range images[1:] {
			img.BaseLayers, img.BaseFrom = analysis.SharedLayers(img, ids), analysis.SharedWithBaseline
		}
	}
	for _, img := range images {
		if img.BaseName == "" || img.BaseDigest == "" {
			continue
		}
		ref, err := name.ParseReference(img.BaseName)
		var ids []string
		if err == nil {
			ids, err = diffIDsOf(ctx, "docker://"+ref.Context().Name()+"@"+img.BaseDigest, stdin, stderr, o)
		}
		if err != nil {
			fmt.Fprintf(stderr, "imgcompare: %s: the base its annotations name: %v; its base layers are those it shares with the baseline\n", img.Name, err)
			continue
		}
		img.BaseLayers, img.BaseFrom = analysis.SharedLayers(img, ids), "annotated "+img.BaseName
	}
	return nil
}

// diffIDsOf reads the diff_ids of the image arg names, from its config.
func diffIDsOf(ctx context.Context, arg string, stdin io.Reader, stderr io.Writer, o *options) ([]string, error) {
	opened, err := source.Open(ctx, arg, o.sourceOptions(arg, stdin, stderr))
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	config, err := opened.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: reading its config: %w", arg, err)
	}
	var ids []string
	for _, h := range config.RootFS.DiffIDs {
		ids = append(ids, h.String())
	}
	return ids, nil
}

// wants reports whether a report in format is asked for, on stdout or
// in a file.
func (o *options) wants(format string) bool {
	if o.format == format {
		return true
	}
	for _, r := range o.reports {
		if r.format == format {
			return true
		}
	}
	return false
}
