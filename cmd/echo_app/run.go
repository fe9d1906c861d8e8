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
	"unicode/utf8"

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
	fromEnv     map[string]bool // flags set by their environment variable
}

// parseOptions reads the flags, each of which can also come from its
// environment variable; a flag on the command line wins. PORT sets the port
// of the default listen address, as platforms that assign ports expect.
func parseOptions(args []string, getenv func(string) string, stdout io.Writer) (*options, error) {
	o := &options{server: server.DefaultConfig(), logFormat: "text", fromEnv: map[string]bool{}}
	fs := flag.NewFlagSet("echo_app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &o.server
	fs.StringVar(&c.Addr, "listen", c.Addr, "`host:port` to listen on (overrides PORT)")
	fs.StringVar(&o.logFormat, "log-format", o.logFormat, "log format: text or json")
	fs.Var(levelFlag{&o.logLevel}, "log-level", "minimum log `level`: debug, info, warn or error")
	fs.BoolVar(&o.accessLog, "access-log", false, "log one line per request (costs throughput)")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "time allowed to send a request's line and headers, from its first byte")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "time allowed to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time allowed from request headers to the end of the response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "time a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "largest request line and headers, in bytes (larger get 431)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", c.DrainDelay, "time to keep serving, with /readyz at 503, before closing the listener on shutdown")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "time allowed for in-flight requests to finish on shutdown")
	fs.IntVar(&c.MaxConns, "max-conns", 0, "most open connections; at the budget a newcomer takes the place of one without a complete request, whose client takes no answers, or after a run of pipelined answers (default, and at most: what the memory limit holds)")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "ask /healthz of the server at the listen address (a wildcard host over loopback); exit 0 if healthy, 1 if not")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")

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

	// A variable sets its flag only when the command line does not: the
	// flag wins, and a bad variable it overrides is no error.
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if isMode(f.Name) || onCommandLine[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageError("invalid %s %q: %v", name, v, err)
			}
			o.fromEnv[f.Name] = true
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if port := getenv("PORT"); port != "" && !onCommandLine["listen"] && !o.fromEnv["listen"] {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, usageError("invalid PORT %q: want a number from 0 to 65535", port)
		}
		o.server.Addr = ":" + port
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

// Limits of the settings: below minTimeout, a timeout leaves no time to
// serve anything; above maxHeaderBytes and maxConns, the budget's memory
// rule no longer holds (and net/http's header limit overflows near the
// largest int).
const (
	minTimeout     = time.Millisecond
	maxHeaderBytes = 1 << 20
	maxConns       = 1 << 20
)

// name is how an error names the setting of flag: its variable when the
// value came from there.
func (o *options) name(flag string) string {
	if o.fromEnv[flag] {
		return envName(flag)
	}
	return "-" + flag
}

func (o *options) validate() error {
	if o.logFormat != "text" && o.logFormat != "json" {
		return usageError("invalid %s %q: want text or json", o.name("log-format"), o.logFormat)
	}
	if _, port, err := net.SplitHostPort(o.server.Addr); err != nil {
		return usageError("invalid %s %q: want host:port", o.name("listen"), o.server.Addr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usageError("invalid %s %q: want a port number from 0 to 65535", o.name("listen"), o.server.Addr)
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
		if d.value < minTimeout {
			return usageError("invalid %s %s: want a duration of at least %s", o.name(d.name), d.value, minTimeout)
		}
	}
	if c.DrainDelay < 0 {
		return usageError("invalid %s %s: want zero or a positive duration", o.name("drain-delay"), c.DrainDelay)
	}
	if c.MaxConns < 0 || c.MaxConns > maxConns {
		return usageError("invalid %s %d: want 0 for the default, or a number from 1 to %d", o.name("max-conns"), c.MaxConns, maxConns)
	}
	if c.MaxHeaderBytes < 1 || c.MaxHeaderBytes > maxHeaderBytes {
		return usageError("invalid %s %d: want a number from 1 to %d", o.name("max-header-bytes"), c.MaxHeaderBytes, maxHeaderBytes)
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

// levelFlag accepts the four documented log levels, in any ASCII case, and
// nothing else (slog's own parser also takes offsets such as "INFO+2", and
// Unicode case folding would take "İNFO").
type levelFlag struct{ level *slog.Level }

func (f levelFlag) String() string {
	if f.level == nil {
		return ""
	}
	return strings.ToLower(f.level.String())
}

func (f levelFlag) Set(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return errors.New("want debug, info, warn or error")
		}
	}
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

	// The budget is what the memory limit holds at each connection's
	// worst cost, or -max-conns where that is smaller.
	limitSource := "none"
	limit, from := memoryLimit(os.DirFS("/"))
	fits := server.MaxConnsFor(limit, o.server.MaxHeaderBytes)
	if limit > 0 {
		limitSource = fmt.Sprintf("%s (%d bytes)", from, limit)
	}
	switch {
	case o.server.MaxConns == 0:
		o.server.MaxConns = fits
	case o.server.MaxConns > fits && limit > 0:
		log.Warn("the connection budget is lowered to what the memory limit holds",
			slog.Int("max_conns", o.server.MaxConns), slog.Int("budget", fits),
			slog.String("memory_limit", limitSource), slog.Int64("bytes_per_conn", server.ConnBytes(o.server.MaxHeaderBytes)))
		o.server.MaxConns = fits
	default:
		limitSource = o.name("max-conns")
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
