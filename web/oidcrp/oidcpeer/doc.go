// Package oidcpeer runs a real OpenID provider, the certified Node
// implementation oidc-provider, as a test peer for the relying party in
// web/oidcrp. Tests start one per case with the claims, acr values and
// clients that case needs, and steer it through a small admin API: who logs
// in next and how strongly, account changes, key rotation.
//
// The protocol is the provider's own and go-oidc's on our side; only the
// person in front of the browser is replaced (the provider's interaction
// route finishes each login with the login the test set) and the browser
// is an http.Client with a cookie jar (Browser).
//
// The provider needs Node and its npm module:
//
//	npm ci --prefix web/oidcrp/oidcpeer/node
//
// Without them Start skips the test, unless COUNTERSIGN_TEST_REQUIRE_OIDC_PROVIDER=1
// or CI=true, when it fails it.
package oidcpeer
