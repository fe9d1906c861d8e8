// Package server is echo_app's HTTP server: the routes that answer
// "I love <noun>!", the operational endpoints, and a lifecycle that starts
// fast and shuts down without dropping a request.
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
	log     *slog.Logger
}

// Listen binds cfg.Addr, so a busy port is reported here, before anything
// is served.
func Listen(cfg Config, h *Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		handler: h,
		ln:      ln,
		log:     log,
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done, then shuts down: /readyz turns 503 at
// once, the server keeps serving for the drain delay, then closes the
// listener and waits up to the shutdown timeout for in-flight requests.
// It returns nil when every request finished in time.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.ln) }()

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

	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		s.http.Close()
		return fmt.Errorf("shutting down: in-flight requests did not finish within %s: %w", s.cfg.ShutdownTimeout, err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
