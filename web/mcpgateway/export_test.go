package mcpgateway

import "time"

// KeptSessions counts the sessions the gateway keeps an owner or a chain
// for.
func KeptSessions(g *Gateway) int {
	n := 0
	g.owners.Range(func(any, any) bool { n++; return true })
	g.chains.mu.Lock()
	n += len(g.chains.per)
	g.chains.mu.Unlock()
	return n
}

// Prune runs the orphan sweep as if at now.
func Prune(g *Gateway, now time.Time) { g.prune(now) }
