package mmfake

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// wireRequest is one request as it crossed the wire: header lines in
// order, exactly as sent, and the raw body.
type wireRequest struct {
	requestLine string
	headers     [][2]string
	body        string
}

// rawListener accepts one connection, records the request bytes verbatim
// and answers 200 with an empty JSON object. net/http would canonicalize
// and reorder headers; a bare TCP listener sees what the helper really
// sends.
func rawListener(t *testing.T) (addr string, got <-chan wireRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan wireRequest, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		var w wireRequest
		w.requestLine, _ = r.ReadString('\n')
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				break
			}
			name, value, _ := strings.Cut(line, ": ")
			w.headers = append(w.headers, [2]string{name, value})
			if strings.EqualFold(name, "Content-Length") {
				length, _ = strconv.Atoi(value)
			}
		}
		body := make([]byte, length)
		_, _ = io.ReadFull(r, body)
		w.body = string(body)
		_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
		ch <- w
	}()
	return ln.Addr().String(), ch
}

// assertSameRequest compares a request on the wire with a captured one:
// same request line path, same header names in the same order, same
// values except Host (the listener's address) and Content-Length (the
// capture's is that of the unredacted body), and the same body bytes.
func assertSameRequest(t *testing.T, captured *capturedRequest, w wireRequest, addr string) {
	t.Helper()
	if want := fmt.Sprintf("POST %s HTTP/1.1\r\n", captured.Path); w.requestLine != want {
		t.Errorf("request line %q, want %q", w.requestLine, want)
	}
	if len(w.headers) != len(captured.Headers) {
		t.Errorf("headers %v, want %v", w.headers, captured.Headers)
	}
	for i := range min(len(w.headers), len(captured.Headers)) {
		got, want := w.headers[i], captured.Headers[i]
		if got[0] != want[0] {
			t.Errorf("header %d is %q, want %q", i, got[0], want[0])
			continue
		}
		switch got[0] {
		case "Host":
			if got[1] != addr {
				t.Errorf("Host %q, want %q", got[1], addr)
			}
		case "Content-Length":
			if got[1] != strconv.Itoa(len(w.body)) {
				t.Errorf("Content-Length %s for a %d-byte body", got[1], len(w.body))
			}
		default:
			if got[1] != want[1] {
				t.Errorf("%s: %q, want %q", got[0], got[1], want[1])
			}
		}
	}
	if w.body != captured.RawBody {
		t.Errorf("body\n%s\nwant\n%s", w.body, captured.RawBody)
	}
}

func loadCaptured(t *testing.T, name string) *capturedRequest {
	t.Helper()
	var c capturedRequest
	if err := DecodeFixture(name, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func fieldsFromForm(f map[string]string) CommandFields {
	return CommandFields{
		TeamID: f["team_id"], TeamDomain: f["team_domain"], ChannelID: f["channel_id"], ChannelName: f["channel_name"],
		UserID: f["user_id"], UserName: f["user_name"], Command: f["command"], Text: f["text"],
		TriggerID: f["trigger_id"], ResponseURL: f["response_url"],
	}
}

// SlashCommand sends byte for byte what Mattermost 9.10 sent.
func TestSlashCommandMatchesCapture(t *testing.T) {
	captured := loadCaptured(t, "slash-command-request.json")
	addr, got := rawListener(t)
	resp, err := SlashCommand("http://"+addr+captured.Path, captured.ParsedForm["token"], fieldsFromForm(captured.ParsedForm))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	assertSameRequest(t, captured, <-got, addr)
}

// Newer servers add root_id and mention lists; the rest stays the same.
func TestSlashCommandWithThreadAndMentions(t *testing.T) {
	captured := loadCaptured(t, "slash-command-request.json")
	f := fieldsFromForm(captured.ParsedForm)
	f.RootID = RootPostID
	f.UserMentions = model.UserMentionMap{"bob": BobID}
	req, err := NewSlashCommandRequest(context.Background(), "http://example.invalid/cmd", "tok", f)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	if req.PostForm.Get("root_id") != RootPostID || req.PostForm.Get("user_mentions") != "bob" || req.PostForm.Get("user_mentions_ids") != BobID {
		t.Errorf("form %v", req.PostForm)
	}
	if req.Header.Get("Authorization") != "Token tok" || req.PostForm.Get("token") != "tok" {
		t.Error("token must travel in the header and the form, as Mattermost sends it")
	}
	plain := fieldsFromForm(captured.ParsedForm).Form("tok")
	for k := range plain {
		if req.PostForm.Get(k) != plain.Get(k) {
			t.Errorf("%s changed: %q vs %q", k, req.PostForm.Get(k), plain.Get(k))
		}
	}
}

// PostAction sends byte for byte what Mattermost 9.10 sent for a click,
// with no Authorization header.
func TestPostActionMatchesCapture(t *testing.T) {
	captured := loadCaptured(t, "post-action-request.json")
	var req model.PostActionIntegrationRequest
	if err := json.Unmarshal(captured.ParsedBody, &req); err != nil {
		t.Fatal(err)
	}
	addr, got := rawListener(t)
	resp, err := PostAction("http://"+addr+captured.Path, req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	w := <-got
	assertSameRequest(t, captured, w, addr)
	for _, h := range w.headers {
		if h[0] == "Authorization" {
			t.Error("a post action carries no Authorization header")
		}
		if h[0] == "Content-Length" && h[1] != "528" {
			t.Errorf("Content-Length %s, captured 528 (nothing was redacted)", h[1])
		}
	}
}

// A handler sees the helper's request like the one Mattermost sends.
func TestSlashCommandRequestReachesHandler(t *testing.T) {
	captured := loadCaptured(t, "slash-command-request.json")
	var seen url.Values
	var auth string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		seen, auth = r.PostForm, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: "ok"})
	})
	req, err := NewSlashCommandRequest(context.Background(), "http://countersign.test/hooks/mattermost/command", "secret", fieldsFromForm(captured.ParsedForm))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var cr model.CommandResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &cr); err != nil || cr.Text != "ok" {
		t.Errorf("reply %s: %v", rec.Body, err)
	}
	if auth != "Token secret" || seen.Get("user_id") != AliceID || seen.Get("text") != "hello from the thread" || seen.Has("root_id") {
		t.Errorf("handler saw auth %q form %v", auth, seen)
	}
}
