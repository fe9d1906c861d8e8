// Command echo_app is a web server that loves whatever you name:
// GET /alpacas answers "I love alpacas!".
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// signalRepeatWindow is how long after the first signal a repeat counts as
// the same signal rather than a second one.
const signalRepeatWindow = time.Second

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	// SIGHUP too: a closed terminal or a supervisor's hangup ends the
	// server as SIGTERM does, gracefully, rather than at once (Go's
	// default); there is no configuration file to read again.
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt, syscall.SIGHUP)
	go func() {
		// The first signal starts a graceful shutdown, a second one ends
		// the process at once. The same signal repeated within
		// signalRepeatWindow is the same request delivered twice: GNU
		// timeout and some supervisors signal the process and then its
		// process group. A different signal is a second one, however
		// soon it comes. Handling signals
		// here, rather than falling back to the default action, also works
		// as PID 1, which ignores signals it does not handle.
		first := <-signals
		firstAt := time.Now()
		cancel()
		for sig := range signals {
			if sig == first && time.Since(firstAt) < signalRepeatWindow {
				continue
			}
			fmt.Fprintf(os.Stderr, "echo_app: second %v: exiting now\n", sig)
			os.Exit(1)
		}
	}()

	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "echo_app: %v\n", err)
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		os.Exit(1)
	}
}
