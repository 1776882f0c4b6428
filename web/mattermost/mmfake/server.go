package mmfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// Server is a running fake Mattermost. All methods are safe for concurrent
// use: the code under test may call it from several goroutines while the
// test programs it.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]*model.User
	bots     map[string]*model.Bot
	teams    map[string]*model.Team
	channels map[string]*model.Channel
	// members maps channel id → user id → membership.
	members map[string]map[string]*model.ChannelMember
	posts   map[string]*model.Post
	// pending maps pending_post_id → created post id, so a retried create
	// returns the first post instead of a duplicate, as Mattermost does.
	pending map[string]string
	// tokens maps an access token to its user id.
	tokens map[string]string
	// grants holds extra permissions per user id (e.g. read_others_bots).
	grants map[string]map[string]bool

	requests []*Request
	faults   []*Fault
	latency  time.Duration
	// outage, when not 0, fails every request (see Outage).
	outage int
	// barrier, when set, holds requests until enough arrived (Barrier).
	barrier *barrier
	// inFlight and maxInFlight count requests being served at once.
	inFlight, maxInFlight int
	lastMS                int64
	now                   func() time.Time
}

// New starts an empty fake and stops it when the test ends. Load the
// captured world with LoadFixtures, or build one with the Add* methods.
func New(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		users:    map[string]*model.User{},
		bots:     map[string]*model.Bot{},
		teams:    map[string]*model.Team{},
		channels: map[string]*model.Channel{},
		members:  map[string]map[string]*model.ChannelMember{},
		posts:    map[string]*model.Post{},
		pending:  map[string]string{},
		tokens:   map[string]string{},
		grants:   map[string]map[string]bool{},
		now:      time.Now,
	}
	s.srv = httptest.NewServer(s.routes())
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the site URL of the fake (what Mattermost calls SiteURL), without
// a trailing slash. Give it to model.NewAPIv4Client.
func (s *Server) URL() string { return s.srv.URL }

// Client returns a model.Client4 for the fake authenticated with token, the
// way production code builds its client.
func (s *Server) Client(token string) *model.Client4 {
	c := model.NewAPIv4Client(s.srv.URL)
	c.SetToken(token)
	return c
}

// Close stops the fake before the test ends (to test "Mattermost is down").
func (s *Server) Close() { s.srv.Close() }

// SetClock replaces the clock used for create_at/update_at/edit_at of posts
// made or changed through the fake, so tests can place posts in time. It
// also forgets the last time handed out, so the new clock may lie in the
// past of posts already stored.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
	s.lastMS = 0
}

// millis returns the current time in epoch milliseconds, strictly
// increasing so that posts created in a row keep their order. Callers hold
// s.mu.
func (s *Server) millis() int64 {
	ms := s.now().UnixMilli()
	if ms <= s.lastMS {
		ms = s.lastMS + 1
	}
	s.lastMS = ms
	return ms
}

// routes declares the API v4 endpoints the fake serves. Anything else gets
// Mattermost's 404 body, so a missing route shows up as a clear error.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request, caller string)) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" /api/v4"+path, s.authenticated(h))
	}
	api("GET /users/me", s.getMe)
	api("GET /users/{user_id}", s.getUser)
	api("GET /users/username/{username}", s.getUserByUsername)
	api("POST /users/ids", s.getUsersByIds)
	api("GET /bots/{bot_user_id}", s.getBot)
	api("GET /teams/{team_id}", s.getTeam)
	api("GET /channels/{channel_id}", s.getChannel)
	api("GET /channels/{channel_id}/posts", s.getChannelPosts)
	api("GET /channels/{channel_id}/members/{user_id}", s.getChannelMember)
	api("POST /channels/{channel_id}/members/ids", s.getChannelMembersByIds)
	api("POST /channels/direct", s.createDirectChannel)
	api("POST /posts", s.createPost)
	api("GET /posts/{post_id}", s.getPost)
	api("DELETE /posts/{post_id}", s.deletePost)
	api("GET /posts/{post_id}/thread", s.getPostThread)
	api("PUT /posts/{post_id}/patch", s.patchPost)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "api.context.404.app_error", "Sorry, we could not find the page.")
	})
	return s.recorded(s.faulty(mux))
}

// authenticated checks the Bearer token the way Mattermost does for
// personal access and bot tokens: a missing or unknown token is a 401.
func (s *Server) authenticated(h func(w http.ResponseWriter, r *http.Request, caller string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get(model.HeaderAuth), " ")
		s.mu.Lock()
		caller := s.tokens[token]
		s.mu.Unlock()
		if !ok || !strings.EqualFold(scheme, model.HeaderBearer) || token == "" || caller == "" {
			writeError(w, http.StatusUnauthorized, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
			return
		}
		s.setCaller(r, caller)
		h(w, r, caller)
	})
}

// writeJSON encodes v like the Mattermost server does (encoding/json with
// a trailing newline).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(model.HeaderVersionId, "9.10.0.mmfake")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// found returns m[key], or writes Mattermost's 404 with the error id and
// message it gives for that kind of object and reports false.
func found[T any](w http.ResponseWriter, m map[string]T, key, id, message string) (T, bool) {
	v, ok := m[key]
	if !ok {
		writeError(w, http.StatusNotFound, id, message)
	}
	return v, ok
}

// writeFound answers m[key] as JSON, or 404 as found does.
func writeFound[T any](w http.ResponseWriter, m map[string]T, key, id, message string) {
	if v, ok := found(w, m, key, id, message); ok {
		writeJSON(w, http.StatusOK, v)
	}
}

// pathID returns r's path parameter name, answering 400 itself when it is
// not a valid Mattermost id.
func pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	if !model.IsValidId(id) {
		badID(w, name)
		return "", false
	}
	return id, true
}

// writeError answers with a model.AppError body, which model.Client4 turns
// into the error it returns.
func writeError(w http.ResponseWriter, status int, id, message string) {
	appErr := &model.AppError{Id: id, Message: message, StatusCode: status, Where: "mmfake"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(appErr.ToJSON()))
}

// badID answers 400 for a malformed id, like Mattermost's URL parameter
// checks.
func badID(w http.ResponseWriter, name string) {
	writeError(w, http.StatusBadRequest, "api.context.invalid_url_param.app_error", "Invalid or missing "+name+" parameter in request URL.")
}

// forbidden answers 403 like Mattermost's permission checks.
func forbidden(w http.ResponseWriter) {
	writeError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
}
