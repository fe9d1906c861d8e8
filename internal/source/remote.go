package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry is the transport of an image in a registry.
const Registry = "docker"

// RegistryTimeout bounds connecting to a registry and waiting for each of
// its answers to begin; a layer may take as long as it takes to stream.
const RegistryTimeout = 30 * time.Second

// openRemote reads an image from a registry with go-containerregistry's
// remote package and the Docker config's credentials (docker login, and
// credential helpers). As Docker does, a registry on localhost or a
// loopback address is spoken to over plain HTTP, any other over HTTPS
// unless Insecure. Layers stream from the registry as they are read, a
// download cut short resumed from where it broke; the blob sizes in the
// manifest are the compressed sizes.
func openRemote(ctx context.Context, ref string, opts Options) ([]*Image, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference: %w", ref, err)
	}
	remoteOpts, certs := remoteOptions(ctx, r, opts)
	desc, err := remote.Get(r, remoteOpts...)
	if err != nil {
		return nil, certs.explain(r, err)
	}
	if desc.MediaType.IsIndex() {
		index, err := desc.ImageIndex()
		if err != nil {
			return nil, certs.explain(r, err)
		}
		imgs, err := fromIndex(index, "", opts, Registry, "")
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", r, err)
		}
		return imgs, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, certs.explain(r, err)
	}
	if err := refuseAttestation(img, r.String()); err != nil {
		return nil, err
	}
	return []*Image{{Image: img, Transport: Registry, StoredSizes: true, Close: noop}}, nil
}

// refuseAttestation says that the manifest of what names is an
// attestation (provenance or SBOM), not an image: its layers are in-toto
// statements, as those of BuildKit's attestation manifests are.
func refuseAttestation(img v1.Image, what string) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	for _, l := range m.Layers {
		if l.MediaType == "application/vnd.in-toto+json" {
			return fmt.Errorf("%s is an attestation manifest (provenance or SBOM: its layers are in-toto statements), not an image", what)
		}
	}
	return nil
}

// remoteOptions are the options of every request to the registry of r,
// and what watches them for an untrusted certificate.
func remoteOptions(ctx context.Context, r name.Reference, opts Options) ([]remote.Option, *certWatch) {
	dialer := &net.Dialer{Timeout: RegistryTimeout}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   RegistryTimeout,
		ResponseHeaderTimeout: RegistryTimeout,
		MaxIdleConnsPerHost:   4,
	}
	var rt http.RoundTripper = base
	if !opts.Insecure && !loopbackRegistry(r.Context().RegistryStr()) {
		// go-containerregistry also speaks plain HTTP to private
		// addresses (10.x, 192.168.x); Docker does not, and neither
		// does imgcompare without --insecure.
		rt = httpsOnly{base}
	}
	certs := &certWatch{next: rt}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(resuming{next: certs, warn: opts.warn}),
		remote.WithUserAgent("imgcompare"),
	}, certs
}

// certWatch remembers the first certificate a registry presented that
// could not be verified. A loopback registry is tried over HTTPS, then
// plain HTTP, so a TLS registry with an untrusted certificate fails with
// the HTTP attempt's error ("an HTTP request to an HTTPS server"), which
// hides the cause.
type certWatch struct {
	next http.RoundTripper
	mu   sync.Mutex
	err  error
}

func (c *certWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	var verr *tls.CertificateVerificationError
	if err != nil && errors.As(err, &verr) {
		c.mu.Lock()
		if c.err == nil {
			c.err = verr
		}
		c.mu.Unlock()
	}
	return resp, err
}

// explain is registryError, naming the certificate when one was refused.
func (c *certWatch) explain(r name.Reference, err error) error {
	c.mu.Lock()
	cert := c.err
	c.mu.Unlock()
	if cert != nil {
		return fmt.Errorf("%s: the registry's certificate is not trusted: %s (its CA goes into the system's bundle, or SSL_CERT_FILE names a file of it)", r, oneLine(cert.Error()))
	}
	return registryError(r, err)
}

// loopbackRegistry reports whether a registry host is this machine.
func loopbackRegistry(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// httpsOnly refuses to send a request over plain HTTP.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return nil, fmt.Errorf("%s is not HTTPS (use --insecure for a registry that only speaks HTTP)", req.URL.Host)
	}
	return h.next.RoundTrip(req)
}

// registryError says in one line what went wrong with a registry.
func registryError(r name.Reference, err error) error {
	host := r.Context().RegistryStr()
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: unauthorized: the registry wants credentials (docker login %s)", r, host)
		case http.StatusForbidden:
			return fmt.Errorf("%s: forbidden: these credentials may not read it", r)
		case http.StatusNotFound:
			return fmt.Errorf("%s: not found in %s", r, host)
		}
		return fmt.Errorf("%s: the registry answered %d: %s", r, terr.StatusCode, oneLine(terr.Error()))
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: cannot reach %s: %s", r, host, oneLine(err.Error()))
	}
	return fmt.Errorf("%s: %s", r, oneLine(err.Error()))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
