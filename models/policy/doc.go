// Package policy decides what happens to a request: refused, approved on its
// own (still audited), or sent to people with a named number of approvals
// from named roles. It holds the action catalogue (what may be asked, with
// typed parameters), the role mapping, and the ordered rules whose conditions
// are CEL expressions. The first matching rule wins; when none matches the
// request is denied.
//
// A Policy is immutable once loaded; a Holder swaps in a new one when the
// file changes and keeps the old one when the new file does not validate.
package policy
