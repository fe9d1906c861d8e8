package source

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// TestUntrustedRegistry reads from a registry on 127.0.0.1 that speaks
// TLS with a certificate this machine does not trust. A loopback registry
// may speak plain HTTP too, so the HTTPS attempt is followed by an HTTP
// one, which the TLS server refuses ("an HTTP request to an HTTPS
// server"); the error must say what is wrong: the certificate.
func TestUntrustedRegistry(t *testing.T) {
	quiet := log.New(io.Discard, "", 0)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(quiet)))
	srv.Config.ErrorLog = quiet
	srv.StartTLS()
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	_, err := Open(context.Background(), "docker://"+host+"/app:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("error %v; want one naming the untrusted certificate", err)
	}
	// A plain HTTP registry on 127.0.0.1 is still read over HTTP.
	plain := httptest.NewServer(registry.New(registry.Logger(quiet)))
	defer plain.Close()
	_, err = Open(context.Background(), "docker://"+strings.TrimPrefix(plain.URL, "http://")+"/app:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("plain HTTP registry: %v; want not found", err)
	}
}
