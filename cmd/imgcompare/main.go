// Command imgcompare compares container images side by side: sizes
// uncompressed and compressed, layers, files, and what each holds that a
// production image should not. It can gate images in CI on a size budget.
//
//	imgcompare [flags] IMAGE [IMAGE...]
//
// IMAGE is a reference in the local Docker engine, a docker save tarball
// (- for stdin) or an OCI image layout directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
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
