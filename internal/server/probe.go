package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe asks the server configured to listen on addr for its liveness
// endpoint, over loopback, and returns nil when it answers 200. It is the
// container health check, so it needs no shell and no curl: it speaks
// HTTP/1.1 over one TCP connection.
func Probe(ctx context.Context, addr string) error {
	target, err := loopback(addr)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	req := "GET " + HealthPath + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: echo_app-healthcheck\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return fmt.Errorf("sending request to %s: %w", target, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return fmt.Errorf("reading response from %s: %w", target, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s answered %s", target, HealthPath, resp.Status)
	}
	return nil
}

// loopback turns a listen address into one to dial: a wildcard or empty
// host becomes the loopback address of the same family.
func loopback(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// ProbeTimeout bounds the whole health check, so a hung server is reported
// unhealthy before a container runtime gives up on the check itself.
const ProbeTimeout = 2 * time.Second
