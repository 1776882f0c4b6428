package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// unmatchedRoute labels requests that matched no route, so scanners probing
// random paths add one series, not one per path.
const unmatchedRoute = "unmatched"

// routeLabel is the route pattern that handled the request (e.g.
// /requests/:id), or "unmatched" when no route did (echo leaves c.Path()
// empty then).
func routeLabel(c echo.Context) string {
	if c.Path() == "" {
		return unmatchedRoute
	}
	return c.Path()
}

// httpMetrics are the request counters and latency histograms. Labels are
// the route pattern (c.Path(), e.g. /requests/:id), a fixed set of methods
// and the status code, so the number of series stays bounded whatever
// clients send.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers the collectors on reg. Registering twice on the
// same registry fails, which is what catches two servers sharing one.
func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "countersign_http_requests_total",
			Help: "HTTP requests handled, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "countersign_http_request_duration_seconds",
			Help:    "Time to handle an HTTP request, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

// middleware observes each request after its error (if any) has been turned
// into a response, so the code label is the status really sent.
func (m *httpMetrics) middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			settle(c, next(c))

			method := metricMethod(c.Request().Method)
			route := routeLabel(c)
			m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
			return nil
		}
	}
}

// metricMethod maps the method to a closed set; any other string a client
// invents becomes "OTHER" instead of a new series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	default:
		return "OTHER"
	}
}
