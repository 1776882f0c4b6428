package contenthash

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/countersign/countersign/models"
)

// pieces that stress string escaping: quotes, backslashes, every kind of
// control character, HTML-special characters (encoding/json escapes them,
// RFC 8785 does not), line and paragraph separators, astral runes, DEL,
// and invalid UTF-8.
var pieces = []string{
	"", "a", "OOM loop, INC-4211", `"quoted"`, `back\slash`, "\x00", "\x01\x1f", "\b\f\n\r\t", "<script>&amp;</script>",
	"\u2028\u2029", "€", "😀", "\x7f", "\xff", "\xe2\x82", "ok\xc3(", "Approved ✅", "/slash/", "\u00e9",
}

func randString(r *rand.Rand) string {
	var b []byte
	for n := r.IntN(5); n > 0; n-- {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

var raws = []string{`{}`, `{"b":1,"a":[true,null,"x"]}`, `{"n":1.50,"m":1e21,"s":"\u20ac<>"}`, `[3, 2, 1]`, `"text"`, `12`, `{"z":{"y":{"x":-0.0}}}`}

func randInt(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return r.Int64N(1 << 53)
	case 2:
		return -r.Int64N(1 << 40)
	default:
		return 1795768796176 + r.Int64N(1e9)
	}
}

func randContent(r *rand.Rand) Content {
	c := Content{Kind: randString(r), Action: randString(r), Params: json.RawMessage(raws[r.IntN(len(raws))]), Purpose: randString(r)}
	if r.IntN(2) == 0 { // empty but not nil: "[]", where nil is "null"
		c.Conversation, c.ToolChain = []Post{}, []ToolCall{}
	}
	for n := r.IntN(6); n > 0; n-- {
		c.Conversation = append(c.Conversation, Post{
			PostID: randString(r), RootID: randString(r), AuthorID: randString(r), AuthorName: randString(r),
			AuthorKind: randString(r), BotOwnerID: randString(r), FromWebhook: r.IntN(2) == 0,
			OverrideUsername: randString(r), ChannelMember: r.IntN(2) == 0, Message: randString(r),
			CreateAt: randInt(r), EditAt: randInt(r), DeleteAt: randInt(r),
		})
	}
	for n := r.IntN(4); n > 0; n-- {
		tc := ToolCall{CallID: randString(r), ParentID: randString(r), Tool: randString(r),
			Input: json.RawMessage(raws[r.IntN(len(raws))]), Status: randString(r),
			StartedAt: randString(r), EndedAt: randString(r)}
		if r.IntN(2) == 0 {
			tc.Output = json.RawMessage(raws[r.IntN(len(raws))])
		}
		if r.IntN(2) == 0 {
			tc.OutputDigest = randString(r)
		}
		if r.IntN(2) == 0 {
			tc.ObservedBy = randString(r)
		}
		c.ToolChain = append(c.ToolChain, tc)
	}
	return c
}

// TestDirectEncodingEqualsGeneralCanonicalisation holds the direct encoder
// to the general path (encoding/json + RFC 8785 canonicalisation) on random
// content built from awkward pieces.
func TestDirectEncodingEqualsGeneralCanonicalisation(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		c := randContent(r)
		want, err := Canonical(c)
		if err != nil {
			t.Fatal(err)
		}
		e := encoder{}
		e.content(&c)
		if e.err != nil {
			t.Fatalf("case %d: direct encoder failed: %v", i, e.err)
		}
		if !bytes.Equal(e.buf, want) {
			t.Fatalf("case %d differs:\n direct  %q\n general %q", i, e.buf, want)
		}
		for j := range c.Conversation {
			wantPost, _ := Canonical(c.Conversation[j])
			ep := encoder{}
			ep.post(&c.Conversation[j])
			if !bytes.Equal(ep.buf, wantPost) {
				t.Fatalf("case %d post %d differs:\n direct  %q\n general %q", i, j, ep.buf, wantPost)
			}
		}
	}
}

func TestHugeIntegersTakeTheGeneralPath(t *testing.T) {
	c := Content{Params: json.RawMessage(`{}`), Conversation: []Post{{CreateAt: 1<<53 + 1}}}
	got, err := encodeContent(&c)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Canonical(c)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %s want %s", got, want)
	}
	p := models.ConversationPost{PostSnapshot: models.PostSnapshot{PostID: "p", AuthorKind: models.AuthorHuman, EditAt: -(1<<53 + 5)}}
	h, err := PostHash(&p)
	wantB, _ := Canonical(FromPost(&p))
	if err != nil || h != Sum(wantB) {
		t.Fatalf("post hash %s, %v", h, err)
	}
}

func TestInvalidEmbeddedJSONIsAnError(t *testing.T) {
	c := Content{Params: json.RawMessage(`{"a":`)}
	if _, err := Hash(c); err == nil {
		t.Fatal("broken params hashed")
	}
}

func BenchmarkHashLongConversation(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	c := Content{Kind: "action", Action: "restart", Params: json.RawMessage(`{"env":"prod","service":"payments-api"}`), Purpose: "OOM loop"}
	for i := 0; i < 200; i++ {
		c.Conversation = append(c.Conversation, Post{PostID: "h3m9x2k7qp4wz8c1bnd5fyr6ta", AuthorID: "nczzemc3wtymbn485zozgc7w7c", AuthorName: "bob", AuthorKind: "human", Message: randString(r) + " payments-api pods restarting every ~4 min since 08:10, OOMKilled", CreateAt: 1795768796176})
	}
	for i := 0; i < 100; i++ {
		c.ToolChain = append(c.ToolChain, ToolCall{CallID: "call", Tool: "k8s.logs", Input: json.RawMessage(`{"pod":"payments-1","lines":200}`), Output: json.RawMessage(`{"lines":["a","b","c"],"count":3}`), Status: "ok", StartedAt: "2026-11-27T09:00:00.000000Z", EndedAt: "2026-11-27T09:00:01.000000Z"})
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := Hash(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			if _, err := Canonical(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
