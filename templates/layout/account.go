package layout

import "context"

// Account is the signed-in person as the page frame shows them: a name
// and the sign-out form. The web layer's session middleware puts it in the
// request context; pages never pass it themselves.
type Account struct {
	// Name is shown in the header (display name, else username).
	Name string
	// CSRFField and CSRFToken go into the sign-out form, which is a POST
	// like every state change.
	CSRFField string
	CSRFToken string
	// Auditor is true when the person may use the audit search (the
	// navigation links it only then).
	Auditor bool
}

type accountKey struct{}

// WithAccount returns a context that carries a for the layout to read.
func WithAccount(ctx context.Context, a Account) context.Context {
	return context.WithValue(ctx, accountKey{}, a)
}

// AccountFrom returns the signed-in account, if any.
func AccountFrom(ctx context.Context) (Account, bool) {
	a, ok := ctx.Value(accountKey{}).(Account)
	return a, ok
}
