package handlers_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/handlers"
)

// hangGuard only keeps a broken Serve from hanging the test run; it is not
// a performance threshold.
const hangGuard = 30 * time.Second

func TestServeShutsDownGracefully(t *testing.T) {
	s := newTestServer(t)
	started := make(chan struct{})
	release := make(chan struct{})
	s.e.GET("/test/slow", func(c echo.Context) error {
		close(started)
		<-release
		return c.String(http.StatusOK, "finished")
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- handlers.Serve(ctx, s.e, handlers.ServeOptions{Addr: "127.0.0.1:0", OnListen: func(a net.Addr) { addrs <- a }})
	}()

	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-served:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(hangGuard):
		t.Fatal("onListen never called")
	}
	base := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.Port == 0 {
		t.Fatalf("onListen got %v, want the real port", addr)
	}

	client := &http.Client{Timeout: hangGuard}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}

	// A request in flight when the context is cancelled must still complete.
	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + "/test/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-started:
	case <-time.After(hangGuard):
		t.Fatal("slow handler never started")
	}

	cancel()
	// Serve must not return while the slow request is still running.
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)

	select {
	case r := <-slow:
		if r.err != nil || r.status != http.StatusOK || r.body != "finished" {
			t.Errorf("in-flight request: %+v, want 200 finished", r)
		}
	case <-time.After(hangGuard):
		t.Fatal("in-flight request never finished")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel: %v, want nil", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after cancel")
	}

	if conn, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		conn.Close()
		t.Error("still accepting connections after shutdown")
	}
}

func TestServeReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newTestServer(t)
	if err := handlers.Serve(context.Background(), s.e, handlers.ServeOptions{Addr: ln.Addr().String()}); err == nil {
		t.Error("Serve on a taken port returned nil")
	}
}
