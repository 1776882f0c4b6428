// Package demoidp is a small, real OpenID Provider for `countersign demo`
// and for tests. It exists so that the portal's login and step-up code
// always runs the real OpenID Connect protocol (discovery, JWKS, code flow
// with PKCE, ID token validation) even when no company IdP is at hand,
// instead of a "fake login" switch that could leak into production.
//
// It is a demo: users, keys, sessions and codes live in memory and vanish
// on restart, and every page it renders says so. It is built on
// github.com/zitadel/oidc/v3/pkg/op, which implements the protocol
// endpoints; this package adds the in-memory storage, a server-rendered
// login UI (password, then an optional or mandatory TOTP code), SSO
// sessions that honour prompt=login and max_age, and the acr/amr claims
// the portal's step-up checks rely on.
//
// A Provider is an http.Handler that serves every path under its issuer's
// path, so it can run on its own listener or be mounted under a prefix of
// another server (see Provider.PathPrefix).
package demoidp
