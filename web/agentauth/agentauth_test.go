package agentauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/agents"
	"github.com/countersign/countersign/models/storetest"
	"github.com/countersign/countersign/web/agentauth"
	"github.com/countersign/countersign/web/demoidp"
	"github.com/countersign/countersign/web/demoidp/demoidptest"
)

const (
	agentClient  = "deploy-bot"
	agentSecret  = "deploy-bot-secret-0123456789"
	strayClient  = "stray-service"
	straySecret  = "stray-service-secret-0123456789"
	otherAudCli  = "other-api-client"
	apiAudience  = "countersign-api"
	deployBotUID = "6cex5ukfajfc8pbu3ewqd6i3ow"
)

// idp runs the demo provider with service clients over real HTTP.
func idp(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p, _ := demoidptest.NewProvider(t, demoidp.Config{
		Issuer:  srv.URL + "/idp",
		Clients: []demoidp.Client{{ID: "portal", Secret: "portal-secret-0123456789", RedirectURIs: []string{srv.URL + "/cb"}}},
		ServiceClients: []demoidp.ServiceClient{
			{ID: agentClient, Secret: agentSecret, Audience: []string{apiAudience}},
			{ID: strayClient, Secret: straySecret, Audience: []string{apiAudience}},
			{ID: otherAudCli, Secret: straySecret, Audience: []string{"some-other-api"}},
		},
	})
	mux.Handle("/idp/", p)
	return srv.URL + "/idp"
}

func token(t *testing.T, issuer, id, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: issuer + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials for %s: %v", id, err)
	}
	return tok.AccessToken
}

func registry(t *testing.T) *agents.Registry {
	t.Helper()
	r, err := agents.NewRegistry([]agents.Agent{
		{Name: "deploy-bot", BotUserID: deployBotUID, Sponsor: "dave", ClientID: agentClient},
		{Name: "other-aud", BotUserID: "g54r5jzrrbba9bhss5p8zfo5zo", Sponsor: "dave", ClientID: otherAudCli},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClientCredentialsTokenFromDemoIdP(t *testing.T) {
	issuer := idp(t)
	ctx := context.Background()
	auth, err := agentauth.New(ctx, agentauth.Config{Registry: registry(t), Issuer: issuer, Audience: apiAudience})
	if err != nil {
		t.Fatal(err)
	}
	good := token(t, issuer, agentClient, agentSecret)
	if strings.Count(good, ".") != 2 {
		t.Fatalf("access token is not a JWT: %q", good)
	}
	a, err := auth.Authenticate(ctx, "Bearer "+good)
	if err != nil || a.Name != "deploy-bot" {
		t.Fatalf("Authenticate = %v, %v", a, err)
	}

	// A valid token of a client that is not a registered agent.
	if _, err := auth.Authenticate(ctx, "Bearer "+token(t, issuer, strayClient, straySecret)); !errors.Is(err, agentauth.ErrRefused) {
		t.Fatalf("unregistered client: %v", err)
	}
	// A registered agent's token for another audience.
	if _, err := auth.Authenticate(ctx, "Bearer "+token(t, issuer, otherAudCli, straySecret)); !errors.Is(err, agentauth.ErrRefused) {
		t.Fatalf("wrong audience: %v", err)
	}
	// Tampered signature, wrong scheme, nothing, API key without a key store.
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	sig[5] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	for _, h := range []string{"Bearer " + tampered, "Basic " + good, "", "Bearer", "Bearer cs_x_y"} {
		if _, err := auth.Authenticate(ctx, h); !errors.Is(err, agentauth.ErrRefused) {
			t.Errorf("Authenticate(%.20q) = %v", h, err)
		}
	}
	// The IdP refuses a wrong secret: no token at all.
	cc := clientcredentials.Config{ClientID: agentClient, ClientSecret: "wrong-secret-0123456789", TokenURL: issuer + "/oauth/token"}
	if _, err := cc.Token(ctx); err == nil {
		t.Fatal("the demo IdP issued a token for a wrong secret")
	}
}

func TestTokenOfAnotherIssuerRefused(t *testing.T) {
	issuerA, issuerB := idp(t), idp(t)
	ctx := context.Background()
	auth, err := agentauth.New(ctx, agentauth.Config{Registry: registry(t), Issuer: issuerA, Audience: apiAudience})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, "Bearer "+token(t, issuerB, agentClient, agentSecret)); !errors.Is(err, agentauth.ErrRefused) {
		t.Fatalf("token of another issuer: %v", err)
	}
}

// ops is the person who manages the agents' keys.
var ops = models.Actor{Type: models.ActorHuman, ID: "ops", Display: "ops"}

// withKey returns an authenticator checking API keys kept in s, the keys,
// and a new key of deploy-bot: its plain text and its record.
func withKey(t *testing.T, s *models.Store) (*agentauth.Authenticator, *agents.Keys, string, *agents.Key) {
	t.Helper()
	reg := registry(t)
	keys := agents.NewKeys(s, reg, nil)
	auth, err := agentauth.New(context.Background(), agentauth.Config{Keys: keys, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	plain, rec, err := keys.Create(context.Background(), "deploy-bot", 0, ops)
	if err != nil {
		t.Fatal(err)
	}
	return auth, keys, plain, rec
}

func TestAPIKeys(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		auth, keys, plain, rec := withKey(t, s)
		if a, err := auth.Authenticate(ctx, "Bearer "+plain); err != nil || a.Name != "deploy-bot" {
			t.Fatalf("key: %v, %v", a, err)
		}
		if _, err := keys.Revoke(ctx, rec.ID, ops); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.Authenticate(ctx, "Bearer "+plain); !errors.Is(err, agentauth.ErrRefused) {
			t.Fatalf("revoked key: %v", err)
		}
		// Without an issuer, JWTs are refused.
		if _, err := auth.Authenticate(ctx, "Bearer a.b.c"); !errors.Is(err, agentauth.ErrRefused) {
			t.Fatalf("jwt without issuer: %v", err)
		}
	})
}

// TestKeysUnreadableIsNotRefusal: when the keys cannot be read (the
// database is gone), a valid key is not called invalid; the error says the
// credential could not be checked.
func TestKeysUnreadableIsNotRefusal(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		auth, _, plain, _ := withKey(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := auth.Authenticate(ctx, "Bearer "+plain)
		if !errors.Is(err, agentauth.ErrUnavailable) || errors.Is(err, agentauth.ErrRefused) {
			t.Fatalf("valid key with the database closed: %v, want ErrUnavailable and not ErrRefused", err)
		}
		// A malformed key is still refused without asking the database.
		if _, err := auth.Authenticate(ctx, "Bearer cs_nonsense"); !errors.Is(err, agentauth.ErrRefused) {
			t.Fatalf("malformed key: %v", err)
		}
	})
}
