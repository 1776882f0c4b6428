package mcpgateway

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/countersign/countersign/models/agents"
)

// DefaultAuthCache is how long a verified credential is taken as verified
// again without asking the key store: a revoked key or a key past its
// expiry stops working within this time.
const DefaultAuthCache = 2 * time.Second

// maxCachedCredentials bounds the cache; when full it starts over.
const maxCachedCredentials = 4096

// authCache remembers, for a short time, which agent a credential was
// verified as. Entries are keyed by the SHA-256 of the Authorization
// header, so the cache holds no credential; a miss, an expired entry or a
// refusal goes to the Authenticator (agentauth, constant-time compare).
type authCache struct {
	next Authenticator
	ttl  time.Duration
	mu   sync.Mutex
	m    map[[32]byte]cachedAgent
}

type cachedAgent struct {
	agent *agents.Agent
	until time.Time
}

func newAuthCache(next Authenticator, ttl time.Duration) *authCache {
	return &authCache{next: next, ttl: ttl, m: map[[32]byte]cachedAgent{}}
}

// Authenticate implements Authenticator.
func (c *authCache) Authenticate(ctx context.Context, authorization string) (*agents.Agent, error) {
	if c.ttl <= 0 {
		return c.next.Authenticate(ctx, authorization)
	}
	key := sha256.Sum256([]byte(authorization))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.agent, nil
	}
	a, err := c.next.Authenticate(ctx, authorization)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedCredentials {
		c.m = map[[32]byte]cachedAgent{}
	}
	c.m[key] = cachedAgent{agent: a, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return a, nil
}
