package mattermost

import (
	"container/list"
	"sync"
	"time"
)

// Lookup cache.
//
// A capture needs, besides the posts, who their authors are (account,
// bot-ness, a bot's owner) and the channel and team names. Those answers
// change rarely — an account does not turn into a bot, a bot's owner is
// reassigned by an administrator now and then, channels are renamed
// seldom — while the same few authors, channels and teams come back in
// command after command. The Client therefore keeps them for a short time
// (Config.CacheTTL, 30 s in the shipped configuration), a bounded number
// of each (Config.CacheSize), and asks again once an entry is older.
//
// Why a short TTL is safe for provenance:
//   - What a post says, whether it was edited or deleted, and its webhook
//     labels are never cached: every capture and every re-capture at
//     decision time reads the posts fresh, and the kind of a post
//     (webhook, bot, human) is decided from those fresh props and the
//     account, never from props.from_bot.
//   - Channel membership is never cached either: it is read in one batch
//     with every capture.
//   - A cached account or bot record is at most CacheTTL old. Bot-ness
//     of an account id changes only when an administrator converts it
//     (convert_to_bot, convert_to_user), a bot's owner only when one is
//     reassigned, and either shows in captures made CacheTTL later at the
//     latest — as does a renamed account or channel. Requests already
//     captured keep what they recorded, as they would without a cache.
//   - Failures and "not found" answers are not cached: an account that
//     cannot be read fails the capture every time, as without the cache.
//   - Only answers the bot itself received are cached, per Client (per
//     site), so nothing crosses from one Mattermost to another.
//
// The outbox's DMs use the same cache for the user id of an approver's
// username (a rename shows at most one TTL later, like any account) and
// the bot's DM channel with a user (which never changes).
//
// CacheTTL 0 turns the cache off: every capture then asks for everything.

// DefaultCacheSize bounds each kind of cached record (accounts, bot
// records, channels, teams) when CacheSize is not set.
const DefaultCacheSize = 2048

// ttlCache is a size-bounded map whose entries expire ttl after they were
// stored; when full, the least recently used entry makes room. It is safe
// for concurrent use. A nil *ttlCache caches nothing.
type ttlCache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	lru   *list.List // front: most recently used
}

type cacheEntry[V any] struct {
	key     string
	val     V
	expires time.Time
}

// newTTLCache returns a cache, or nil (no caching) when ttl <= 0.
func newTTLCache[V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[V] {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	return &ttlCache[V]{ttl: ttl, max: max, now: now, items: make(map[string]*list.Element), lru: list.New()}
}

// get returns the value stored under key if it has not expired.
func (c *ttlCache[V]) get(key string) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*cacheEntry[V])
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.items, key)
		return zero, false
	}
	c.lru.MoveToFront(el)
	return e.val, true
}

// put stores val under key for ttl, evicting the least recently used
// entry when the cache is full.
func (c *ttlCache[V]) put(key string, val V) {
	if c == nil {
		return
	}
	expires := c.now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry[V])
		e.val, e.expires = val, expires
		c.lru.MoveToFront(el)
		return
	}
	c.items[key] = c.lru.PushFront(&cacheEntry[V]{key: key, val: val, expires: expires})
	for c.lru.Len() > c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.items, oldest.Value.(*cacheEntry[V]).key)
	}
}

// len reports how many entries are held (expired ones included until
// they are looked up or evicted).
func (c *ttlCache[V]) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
