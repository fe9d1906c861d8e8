package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rastringer/docker_multistage/internal/server"
)

// version and revision are set at build time with
// -ldflags "-X main.version=... -X main.revision=...". When they are not,
// the Go build information fills them in.
var (
	version  = ""
	revision = ""
)

// envPrefix starts the environment variable of every flag: -log-level is
// also ECHO_APP_LOG_LEVEL.
const envPrefix = "ECHO_APP_"

// exitError carries the exit status for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format+" (see echo_app -help)", a...)}
}

// options is everything the command line and the environment can set.
type options struct {
	server      server.Config
	logFormat   string
	logLevel    slog.Level
	accessLog   bool
	healthcheck bool
	version     bool
}

// parseOptions reads the flags, each of which can also come from its
// environment variable; a flag on the command line wins. PORT sets the port
// of the default listen address, as platforms that assign ports expect.
func parseOptions(args []string, getenv func(string) string, stdout io.Writer) (*options, error) {
	o := &options{server: server.DefaultConfig(), logFormat: "text"}
	if port := getenv("PORT"); port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, usageError("invalid PORT %q: want a number from 0 to 65535", port)
		}
		o.server.Addr = ":" + port
	}

	fs := flag.NewFlagSet("echo_app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &o.server
	fs.StringVar(&c.Addr, "listen", c.Addr, "`host:port` to listen on (overrides PORT)")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "log format: text or json")
	fs.Var(levelFlag{&o.logLevel}, "log-level", "minimum log `level`: debug, info, warn or error")
	fs.BoolVar(&o.accessLog, "access-log", false, "log one line per request (costs throughput)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "time allowed to read request headers")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "time allowed to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time allowed from request headers to the end of the response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "time a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "largest request line and headers, in bytes (larger get 431)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", c.DrainDelay, "time to keep serving, with /readyz at 503, before closing the listener on shutdown")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "time allowed for in-flight requests to finish on shutdown")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "most open connections; at the budget the longest waiting one makes room (default: from the memory limit)")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "ask /healthz of the server at the listen address (a wildcard host over loopback); exit 0 if healthy, 1 if not")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if isMode(f.Name) {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageError("invalid %s %q: %v", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}

	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return nil, flag.ErrHelp
		}
		return nil, usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usageError("unexpected argument %q", fs.Arg(0))
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// isMode reports whether a flag picks what echo_app does rather than how it
// serves. Modes have no environment variable: one set in a container's
// environment would turn every start of the server into a health check.
func isMode(flagName string) bool {
	return flagName == "healthcheck" || flagName == "version"
}

func envName(flagName string) string {
	b := []byte(envPrefix + flagName)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func (o *options) validate() error {
	if o.logFormat != "text" && o.logFormat != "json" {
		return usageError("invalid -log-format %q: want text or json", o.logFormat)
	}
	if _, port, err := net.SplitHostPort(o.server.Addr); err != nil {
		return usageError("invalid -listen %q: want host:port", o.server.Addr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usageError("invalid -listen %q: want a port number from 0 to 65535", o.server.Addr)
	}
	c := o.server
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"read-header-timeout", c.ReadHeaderTimeout},
		{"read-timeout", c.ReadTimeout},
		{"write-timeout", c.WriteTimeout},
		{"idle-timeout", c.IdleTimeout},
		{"shutdown-timeout", c.ShutdownTimeout},
	} {
		if d.value <= 0 {
			return usageError("invalid -%s %s: want a positive duration", d.name, d.value)
		}
	}
	if c.DrainDelay < 0 {
		return usageError("invalid -drain-delay %s: want zero or a positive duration", c.DrainDelay)
	}
	if c.MaxConns < 0 {
		return usageError("invalid -max-conns %d: want a positive number, or 0 for the default", c.MaxConns)
	}
	if c.MaxHeaderBytes <= 0 {
		return usageError("invalid -max-header-bytes %d: want a positive number", c.MaxHeaderBytes)
	}
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: echo_app [flags]\n\nServes GET /{noun} with \"I love {noun}!\". Every flag can also be set with\nthe environment variable shown; a flag on the command line wins.\n\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n    \t%s", usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		if isMode(f.Name) {
			fmt.Fprintln(w)
			return
		}
		fmt.Fprintf(w, " [$%s]\n", envName(f.Name))
	})
	fmt.Fprintf(w, "\nPORT sets the port of the default listen address (:8080).\n")
}

// levelFlag accepts the four documented log levels, in any case, and
// nothing else (slog's own parser also takes offsets such as "INFO+2").
type levelFlag struct{ level *slog.Level }

func (f levelFlag) String() string {
	if f.level == nil {
		return ""
	}
	return strings.ToLower(f.level.String())
}

func (f levelFlag) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug":
		*f.level = slog.LevelDebug
	case "info":
		*f.level = slog.LevelInfo
	case "warn":
		*f.level = slog.LevelWarn
	case "error":
		*f.level = slog.LevelError
	default:
		return errors.New("want debug, info, warn or error")
	}
	return nil
}

// buildInfo returns the version and VCS revision of this binary: the values
// set with -ldflags -X when there are any, else Go's build information.
func buildInfo() (string, string) {
	v, rev := version, revision
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && rev == "" {
				rev = s.Value
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return v, rev
}

// run is echo_app: it parses its arguments and environment, then runs the
// mode they ask for until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	v, rev := buildInfo()

	switch {
	case o.version:
		fmt.Fprintf(stdout, "echo_app %s (revision %s, %s, %s/%s)\n", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	case o.healthcheck:
		ctx, cancel := context.WithTimeout(ctx, server.ProbeTimeout)
		defer cancel()
		if err := server.Probe(ctx, o.server.Addr); err != nil {
			return &exitError{code: 1, err: fmt.Errorf("unhealthy: %w", err)}
		}
		fmt.Fprintln(stdout, "healthy")
		return nil
	}

	handlerOpts := &slog.HandlerOptions{Level: o.logLevel}
	var handler slog.Handler = slog.NewTextHandler(stderr, handlerOpts)
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, handlerOpts)
	}
	log := slog.New(handler)
	var accessLog *slog.Logger
	if o.accessLog {
		accessLog = log
	}

	limitSource := "none"
	if o.server.MaxConns == 0 {
		limit, from := memoryLimit(os.DirFS("/"))
		o.server.MaxConns = server.MaxConnsFor(limit)
		if limit > 0 {
			limitSource = fmt.Sprintf("%s (%d bytes)", from, limit)
		}
	} else {
		limitSource = "-max-conns"
	}

	h := server.NewHandler(v, rev, runtime.Version(), accessLog)
	srv, err := server.Listen(o.server, h, log)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listening on %s: %w", o.server.Addr, err)}
	}
	c := o.server
	log.Info("listening",
		slog.String("addr", srv.Addr().String()),
		slog.String("version", v),
		slog.String("revision", rev),
		slog.String("go", runtime.Version()),
		slog.Bool("access_log", o.accessLog),
		slog.Duration("read_header_timeout", c.ReadHeaderTimeout),
		slog.Duration("read_timeout", c.ReadTimeout),
		slog.Duration("write_timeout", c.WriteTimeout),
		slog.Duration("idle_timeout", c.IdleTimeout),
		slog.Int("max_header_bytes", c.MaxHeaderBytes),
		slog.Duration("drain_delay", c.DrainDelay),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Int("max_conns", c.MaxConns),
		slog.String("max_conns_from", limitSource),
	)
	return srv.Serve(ctx)
}
