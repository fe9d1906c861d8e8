// Command imgcompare compares container images side by side: sizes
// uncompressed and compressed, layers, files, wasted space, and what each
// holds that a production image should not. It can gate images in CI on a
// budget, and diff two images.
//
//	imgcompare [flags] IMAGE [IMAGE...]
//	imgcompare diff [flags] IMAGE-A IMAGE-B
//
// IMAGE is named as skopeo names it (docker://, docker-daemon:,
// docker-archive:, oci-archive:, oci:) or bare: see imgcompare -help.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interrupted is the cause of a run cancelled by a signal.
type interrupted struct{ sig syscall.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	// The first SIGINT or SIGTERM cancels the run, which removes its
	// temporary files and exits 128+signal, as a shell reports a process
	// the signal killed. Later ones are ignored while it does.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		cancel(interrupted{sig.(syscall.Signal)})
	}()
	err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	var sig interrupted
	if errors.As(context.Cause(ctx), &sig) {
		fmt.Fprintf(os.Stderr, "imgcompare: %v\n", sig)
		os.Exit(128 + int(sig.sig))
	}
	if err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.err != nil {
				fmt.Fprintf(os.Stderr, "imgcompare: %v\n", exit.err)
			}
			os.Exit(exit.code)
		}
		fmt.Fprintf(os.Stderr, "imgcompare: %v\n", err)
		os.Exit(2)
	}
}
