package main

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
)

// exchange is one HTTP request the browser made and what the server took
// to answer it.
type exchange struct {
	Method string
	URL    string
	// Kind is the resource type: Document, Fetch, Script, …
	Kind string
	// Status is the answer's HTTP status (a redirect's too).
	Status int64
	// ServerMS is from the request's last byte sent to the answer's first
	// header byte, as Chromium timed it: the server's time plus one
	// loopback round trip. Timed is false when Chromium gave no timing.
	ServerMS float64
	Timed    bool
}

// String is the exchange as a log line.
func (e exchange) String() string {
	u, _ := url.Parse(e.URL)
	if !e.Timed {
		return fmt.Sprintf("%s %s (%s) %d: not timed", e.Method, u.RequestURI(), e.Kind, e.Status)
	}
	return fmt.Sprintf("%s %s (%s) %d: server %.1f ms", e.Method, u.RequestURI(), e.Kind, e.Status, e.ServerMS)
}

// traffic records every HTTP exchange of the person's browser while fn
// runs, redirects as exchanges of their own, in the order they were sent.
func (p *person) traffic(t testing.TB, fn func()) []exchange {
	t.Helper()
	var (
		mu    sync.Mutex
		order []network.RequestID
		open  = map[network.RequestID]*exchange{}
		done  []exchange
	)
	finish := func(x *exchange, r *network.Response) {
		x.Status = r.Status
		if tm := r.Timing; tm != nil && tm.SendEnd > 0 {
			start := tm.ReceiveHeadersStart
			if start <= 0 {
				start = tm.ReceiveHeadersEnd
			}
			x.ServerMS, x.Timed = start-tm.SendEnd, true
		}
		done = append(done, *x)
	}
	p.listenWhile(t, fn, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if prev, ok := open[e.RequestID]; ok && e.RedirectResponse != nil {
				finish(prev, e.RedirectResponse)
			} else if !ok {
				order = append(order, e.RequestID)
			}
			open[e.RequestID] = &exchange{Method: e.Request.Method, URL: e.Request.URL, Kind: string(e.Type)}
		case *network.EventResponseReceived:
			if x, ok := open[e.RequestID]; ok {
				finish(x, e.Response)
				delete(open, e.RequestID)
			}
		}
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range order {
		if x, ok := open[id]; ok && !strings.HasPrefix(x.URL, "data:") {
			t.Logf("no answer seen for %s %s", x.Method, x.URL)
		}
	}
	return append([]exchange(nil), done...)
}
