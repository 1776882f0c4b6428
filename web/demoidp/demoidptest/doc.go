// Package demoidptest drives the demo identity provider's login pages over
// real HTTP, the way a person with a browser would: it keeps cookies,
// follows the provider's redirects, parses the HTML forms and submits them.
// Tests of the relying party (and of the portal's login handlers) use it to
// run the real OpenID Connect flow end to end instead of mocking it.
package demoidptest
