// Command profile serves GET /alpacas with echo_app's handler or with the
// 10-line baseline's, under a CPU profile, so the two can be compared
// (bench/profile.sh):
//
//	profile -handler echo_app|baseline -addr 127.0.0.1:18601 -seconds 9 -o cpu.prof
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/rastringer/docker_multistage/internal/server"
)

func main() {
	which := flag.String("handler", "echo_app", "echo_app or baseline")
	addr := flag.String("addr", "127.0.0.1:18601", "listen address")
	seconds := flag.Int("seconds", 9, "how long to serve and profile")
	out := flag.String("o", "cpu.prof", "profile file")
	flag.Parse()

	var h http.Handler = server.NewHandler("profile", "", "", nil)
	if *which == "baseline" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "I love %s!\n", r.URL.Path[1:]) })
	}
	// The shipped timeouts, for echo_app: they are part of what it costs.
	srv := &http.Server{Addr: *addr, Handler: h}
	if *which == "echo_app" {
		c := server.DefaultConfig()
		srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes =
			c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxHeaderBytes
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pprof.StartCPUProfile(f)
	go srv.ListenAndServe()
	time.Sleep(time.Duration(*seconds) * time.Second)
	pprof.StopCPUProfile()
	f.Close()
}
