// Command profile serves GET /alpacas under a CPU profile, so echo_app and
// the 10-line baseline can be compared (bench/profile.sh): echo_app is the
// whole server as echo_app runs it (the connection budget, the timeouts,
// the handler); handler is echo_app's handler on a plain http.Server with
// the same timeouts, which shows what the budget costs; baseline is the
// 10-line server's handler.
//
//	profile -handler echo_app|handler|baseline -addr 127.0.0.1:18601 -seconds 9 -o cpu.prof
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/rastringer/docker_multistage/internal/server"
)

func main() {
	which := flag.String("handler", "echo_app", "echo_app, handler or baseline")
	addr := flag.String("addr", "127.0.0.1:18601", "listen address")
	seconds := flag.Int("seconds", 9, "how long to serve and profile")
	out := flag.String("o", "cpu.prof", "profile file")
	flag.Parse()

	h := server.NewHandler("profile", "", "", nil)
	c := server.DefaultConfig()
	c.Addr = *addr
	var serve func() error
	switch *which {
	case "echo_app":
		srv, err := server.Listen(c, h, slog.New(slog.DiscardHandler))
		if err != nil {
			fail(err)
		}
		serve = func() error { return srv.Serve(context.Background()) }
	case "handler", "baseline":
		srv := &http.Server{Addr: *addr, Handler: h}
		if *which == "baseline" {
			srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "I love %s!\n", r.URL.Path[1:]) })
		} else {
			// The shipped timeouts: they are part of what echo_app costs.
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes =
				c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxHeaderBytes
		}
		serve = srv.ListenAndServe
	default:
		fail(fmt.Errorf("unknown -handler %q: want echo_app, handler or baseline", *which))
	}
	f, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	pprof.StartCPUProfile(f)
	go serve()
	time.Sleep(time.Duration(*seconds) * time.Second)
	pprof.StopCPUProfile()
	f.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "profile:", err)
	os.Exit(1)
}
