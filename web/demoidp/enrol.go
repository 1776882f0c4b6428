package demoidp

import (
	"net/http"
)

// qrScale is the pixels per module of the enrolment QR code: about 300
// pixels for an otpauth URL, large enough for a phone camera held at
// arm's length from a laptop screen.
const qrScale = 6

// totpQR serves the PNG QR code of the otpauth URL of the person on the
// second-factor step, for the authenticator app. Only the browser that
// passed the password step of that sign-in gets it: the code is the
// second factor itself. A real provider shows it once, at enrolment; the
// demo, whose secrets change at every start, shows it at each sign-in,
// as it prints it in the terminal. An image URL rather than a data: URI,
// so the page's CSP (img-src 'self') holds.
func (p *Provider) totpQR(w http.ResponseWriter, r *http.Request) {
	req, err := p.store.passedPassword(r.URL.Query().Get("authRequestID"), p.cookies.get(r, browserCookie))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	acct, known := p.store.creds.accounts[req.passwordUser]
	if !known || acct.totpSecret == "" {
		http.NotFound(w, r)
		return
	}
	uri, err := User{Username: acct.profile.Username, TOTPSecret: acct.totpSecret}.OTPAuthURI()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	q, err := encodeQR(uri)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	img, err := q.png(qrScale)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(img)
}
