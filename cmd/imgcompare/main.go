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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr); err != nil {
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
