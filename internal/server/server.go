package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config holds the settings of a Server. DefaultConfig gives the shipped
// values; every one of them is a flag of echo_app.
type Config struct {
	// Addr is the host:port to listen on.
	Addr string
	// ReadHeaderTimeout bounds how long a client may take to send the
	// request line and headers: it is what disconnects a slowloris.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response: it is what disconnects a slow reader.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; larger ones get
	// 431. net/http allows 4096 bytes of slack over it.
	MaxHeaderBytes int
	// DrainDelay is how long the server keeps serving, with /readyz at 503,
	// after shutdown starts and before it closes the listener, so load
	// balancers can take it out of rotation.
	DrainDelay time.Duration
	// ShutdownTimeout bounds how long in-flight requests may take to
	// finish once the listener is closed.
	ShutdownTimeout time.Duration
	// MaxConns bounds the open connections (0: NoLimitMaxConns). At the
	// budget, a new connection replaces the one that has waited longest
	// for a request; when every connection has a request in progress, it
	// is closed.
	MaxConns int
}

// DefaultConfig returns the configuration echo_app ships with.
func DefaultConfig() Config {
	return Config{
		Addr:              ":8080",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		DrainDelay:        0,
		ShutdownTimeout:   10 * time.Second,
		MaxConns:          NoLimitMaxConns,
	}
}

// HealthPath, ReadyPath and MetricsPath are the operational endpoints.
// These names are reserved: they are never taken for nouns.
const (
	HealthPath  = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// Server is a bound listener with the HTTP server that will serve it.
type Server struct {
	cfg     Config
	handler *Handler
	http    *http.Server
	ln      net.Listener
	conns   *connTracker
	log     *slog.Logger
}

// Listen binds cfg.Addr, so a busy port is reported here, before anything
// is served.
func Listen(cfg Config, h *Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = NoLimitMaxConns
	}
	conns := newConnTracker(cfg.MaxConns, newTimeouts(cfg))
	h.conns = conns
	return &Server{
		cfg:     cfg,
		handler: h,
		ln:      &listener{Listener: ln, conns: conns},
		conns:   conns,
		log:     log,
		http: &http.Server{
			Handler:     h,
			ConnState:   conns.connStateHook,
			ConnContext: connContext,
			// OPTIONS * goes to the handler like every other request, so
			// it gets the same headers and is counted.
			DisableGeneralOptionsHandler: true,
			// The timeouts are the connections' own (deadline.go).
			MaxHeaderBytes: cfg.MaxHeaderBytes,
			ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done, then shuts down: /readyz turns 503 at
// once, the server keeps serving for the drain delay, then closes the
// listener and every connection with no request in progress, and waits up
// to the shutdown timeout for the requests in progress. It returns nil when
// every request begun was answered; a connection still sending the headers
// of a request is closed at the timeout without counting as one.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()
	releaseCtx, stopRelease := context.WithCancel(context.Background())
	defer stopRelease()
	go s.conns.releaseAfterSurges(releaseCtx, time.Second)

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}

	s.handler.SetReady(false)
	s.log.Info("shutting down", "drain_delay", s.cfg.DrainDelay, "shutdown_timeout", s.cfg.ShutdownTimeout)
	if s.cfg.DrainDelay > 0 {
		time.Sleep(s.cfg.DrainDelay)
	}

	// net/http's Shutdown would drop a request whose headers complete
	// while it waits (its serving loop returns on seeing the server shut
	// down) and close keep-alive connections in the middle of a request's
	// headers. The server shuts down itself instead: it stops accepting,
	// answers every request in hand with Connection: close, and closes
	// each connection as soon as it has nothing in progress.
	s.ln.Close()
	deadline := time.Now().Add(s.cfg.ShutdownTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.conns.closeUnused(); s.conns.tracked() > 0; s.conns.closeUnused() {
		if time.Now().After(deadline) {
			cut := s.conns.unanswered()
			s.conns.closeAll()
			s.http.Close()
			<-served
			if cut > 0 {
				s.log.Error("stopped", "requests_cut_off", cut)
				return fmt.Errorf("shutting down: %d requests cut off: not answered within %s", cut, s.cfg.ShutdownTimeout)
			}
			s.log.Info("stopped", "requests_cut_off", 0)
			return nil
		}
		<-tick.C
	}
	s.http.Close()
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	s.log.Info("stopped", "requests_cut_off", 0)
	return nil
}
