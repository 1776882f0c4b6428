package handlers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Server timeouts. ReadHeaderTimeout is what defeats slowloris-style clients
// holding connections open; the others bound a slow body upload, a slow
// reader and idle keep-alive connections.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	// defaultShutdownTimeout applies when ServeOptions leaves it zero.
	defaultShutdownTimeout = 10 * time.Second
)

// ServeOptions says where and how to listen.
type ServeOptions struct {
	// Addr is host:port; port 0 picks a free one (see OnListen).
	Addr string
	// TLSCert and TLSKey, when both set, make the server speak HTTPS.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the graceful shutdown; zero means 10 s.
	ShutdownTimeout time.Duration
	// OnListen, if not nil, learns the bound address once listening.
	OnListen func(net.Addr)
}

// Serve listens on opts.Addr and serves e until ctx is cancelled, then shuts
// down gracefully: it stops accepting connections and waits up to
// opts.ShutdownTimeout for in-flight requests (an approval being written
// must finish, not be cut off). It listens before serving, so the port may be
// 0 and opts.OnListen learns the real address. It returns nil after a clean
// shutdown.
func Serve(ctx context.Context, e *echo.Echo, opts ServeOptions) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", opts.Addr, err)
	}
	useTLS := opts.TLSCert != "" && opts.TLSKey != ""
	if useTLS {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("serve: TLS key pair: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	shutdownTimeout := opts.ShutdownTimeout
	if shutdownTimeout <= 0 {
		shutdownTimeout = defaultShutdownTimeout
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
	if opts.OnListen != nil {
		opts.OnListen(ln.Addr())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		// Serve only returns early on a listener failure.
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		closeErr := srv.Close()
		return fmt.Errorf("serve: graceful shutdown: %w", errors.Join(err, closeErr))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}
