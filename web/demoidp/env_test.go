package demoidp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

const (
	clientID     = "countersign-portal"
	clientSecret = "portal-secret-0123456789"
	redirectURI  = "http://portal.test/auth/callback"
)

type env struct {
	srv    *httptest.Server
	idp    *demoidp.Provider
	issuer string
	users  map[string]demoidp.User
}

// newEnv serves a provider under prefix ("" for its own listener) and
// answers 404 for everything else on the server, like a host application
// would.
func newEnv(t *testing.T, prefix string, users []demoidp.User) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if users == nil {
		users = generateUsers(t)
	}
	idp, err := demoidp.New(demoidp.Config{
		Issuer:  srv.URL + prefix,
		Clients: []demoidp.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{redirectURI}}},
		Users:   users,
	})
	if err != nil {
		t.Fatal(err)
	}
	if prefix == "" {
		mux.Handle("/", idp)
	} else {
		mux.Handle(prefix+"/", idp)
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "host application", http.StatusTeapot)
		})
	}
	byName := map[string]demoidp.User{}
	for _, u := range users {
		byName[u.Username] = u
	}
	return &env{srv: srv, idp: idp, issuer: idp.Issuer(), users: byName}
}

func (e *env) browser(t *testing.T) *demoidptest.Browser {
	t.Helper()
	return demoidptest.NewTestBrowser(t, e.issuer)
}

// authURL builds an authorization request by hand, so tests can send
// what a sloppy or hostile client would.
func (e *env) authURL(params map[string]string) string {
	q := url.Values{
		"client_id":     {clientID},
		"redirect_uri":  {redirectURI},
		"response_type": {"code"},
		"scope":         {"openid profile email"},
		"state":         {"state-123"},
		"nonce":         {"nonce-123"},
	}
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return e.issuer + "/authorize?" + q.Encode()
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func pkce(verifier string) map[string]string {
	return map[string]string{"code_challenge": challenge(verifier), "code_challenge_method": "S256"}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// generateUsers returns the demo cast with fresh random credentials.
func generateUsers(t *testing.T) []demoidp.User {
	t.Helper()
	users, err := demoidp.GenerateUsers()
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// startLogin starts a provider under /idp and opens its login page, for a
// PKCE authorization request, in a new browser.
func startLogin(t *testing.T) (*env, *demoidptest.Browser, *demoidptest.Page) {
	t.Helper()
	e := newEnv(t, "/idp", nil)
	b := e.browser(t)
	return e, b, b.MustGet(t, e.authURL(pkce(verifier)))
}

// login returns the username and password fields of user name.
func (e *env) login(name string) map[string]string {
	return map[string]string{"username": e.users[name].Username, "password": e.users[name].Password}
}

func (e *env) pwd(name string) demoidptest.Credentials {
	u := e.users[name]
	return demoidptest.Credentials{Username: u.Username, Password: u.Password, SkipTOTP: true}
}

// redeem posts the code to the token endpoint as the client would.
func (e *env) redeem(t *testing.T, code, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

func getJSON(t *testing.T, c *http.Client, u string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
