package mattermost

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign/models"
)

// Defaults, chosen so that one capture of a busy thread still fits in the
// time a person waits for a slash command's answer, and a short
// Mattermost outage is ridden out by retries.
const (
	DefaultCallTimeout = 5 * time.Second
	DefaultMaxAttempts = 3
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffMax  = 2 * time.Second
	// DefaultMaxPosts caps one capture; models.MaxPosts is the hard limit.
	DefaultMaxPosts = 500
	// DefaultWindowPosts and DefaultWindowAge bound the channel window used
	// when no thread is named: enough context, not the channel's history.
	DefaultWindowPosts = 50
	DefaultWindowAge   = 24 * time.Hour
	// DefaultConcurrency bounds parallel bot-record lookups in one capture.
	DefaultConcurrency = 8
)

// Config configures a Client. SiteURL and BotToken are required; zero
// values elsewhere take the defaults above.
type Config struct {
	// SiteURL is Mattermost's site URL as its users see it (may include a
	// path prefix). Permalinks are accepted only on this site.
	SiteURL string
	// BotToken is the bot account's access token. It is sent only in the
	// Authorization header and never logged.
	BotToken string

	// CallTimeout bounds one HTTP attempt.
	CallTimeout time.Duration
	// MaxAttempts is the number of tries for a retryable failure (1 = no
	// retry).
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff between
	// attempts; each wait is drawn between half and all of
	// min(BackoffMax, BackoffBase·2^(attempt-1)).
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// MaxPosts caps the posts of one capture (newest kept, see Capture).
	MaxPosts int
	// MaxMessageBytes clips one post's text so a very long message cannot
	// make the whole request unstorable; defaults to
	// models.MaxMessageBytes.
	MaxMessageBytes int
	// Window is the default channel window when no thread is named.
	Window Window
	// Concurrency bounds parallel bot-record lookups of one capture.
	Concurrency int

	// CacheTTL is how long accounts, bot records, channels and teams
	// looked up are reused (see cache.go for why a short TTL is safe for
	// provenance); 0 turns the cache off. Posts and channel membership are
	// never cached.
	CacheTTL time.Duration
	// CacheSize bounds each kind of cached record; 0 means
	// DefaultCacheSize.
	CacheSize int

	// HTTPClient carries the requests (its Timeout is not used: each call
	// has CallTimeout). Nil means a client on a copy of Go's default
	// transport keeping DefaultIdleConnsPerHost idle connections.
	HTTPClient *http.Client
	// Logger receives retries and degraded lookups. Nil discards.
	Logger *slog.Logger
	// Now is the clock for window ages and capture times. Nil means
	// time.Now.
	Now func() time.Time
}

// withDefaults validates c and fills its zero values.
func (c Config) withDefaults() (Config, *url.URL, error) {
	site, err := parseSiteURL(c.SiteURL)
	if err != nil {
		return c, nil, err
	}
	if strings.TrimSpace(c.BotToken) == "" {
		return c, nil, fmt.Errorf("%w: bot token is required", ErrConfig)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.BackoffBase, DefaultBackoffBase)
	def(&c.BackoffMax, DefaultBackoffMax)
	defInt(&c.MaxAttempts, DefaultMaxAttempts)
	defInt(&c.MaxPosts, DefaultMaxPosts)
	defInt(&c.MaxMessageBytes, models.MaxMessageBytes)
	defInt(&c.Concurrency, DefaultConcurrency)
	defInt(&c.CacheSize, DefaultCacheSize)
	defInt(&c.Window.MaxPosts, DefaultWindowPosts)
	def(&c.Window.MaxAge, DefaultWindowAge)
	if c.MaxPosts > models.MaxPosts {
		return c, nil, fmt.Errorf("%w: max posts %d is above the %d a request can hold", ErrConfig, c.MaxPosts, models.MaxPosts)
	}
	if c.MaxMessageBytes > models.MaxMessageBytes {
		return c, nil, fmt.Errorf("%w: max message bytes %d is above the %d a request can hold", ErrConfig, c.MaxMessageBytes, models.MaxMessageBytes)
	}
	c.Window.MaxPosts = min(c.Window.MaxPosts, c.MaxPosts)
	if c.CacheTTL < 0 {
		return c, nil, fmt.Errorf("%w: cache TTL must not be negative (0 turns the cache off)", ErrConfig)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: defaultTransport()}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, site, nil
}

// DefaultIdleConnsPerHost is how many idle connections to Mattermost the
// default transport keeps. Go's default of 2 is far below what concurrent
// commands and captures use: every surplus connection would be closed
// after its call and dialled (with TLS) again for the next.
const DefaultIdleConnsPerHost = 64

// defaultTransport is Go's default transport with enough idle connections
// per host for concurrent captures.
func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(tr.MaxIdleConns, DefaultIdleConnsPerHost)
	tr.MaxIdleConnsPerHost = DefaultIdleConnsPerHost
	return tr
}

// parseSiteURL accepts an absolute http(s) URL without credentials, query
// or fragment, and drops a trailing slash.
func parseSiteURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%w: site URL: %v", ErrConfig, err)
	}
	// A bare "?" or "#" leaves RawQuery and Fragment empty but would still
	// end every link built on the URL.
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.ContainsAny(s, "?#") {
		return nil, fmt.Errorf("%w: site URL must be an absolute http(s) URL without credentials, query or fragment", ErrConfig)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
