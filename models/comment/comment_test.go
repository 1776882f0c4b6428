package comment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/audit/audittest"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/models/demodata"
	"github.com/countersign/countersign/models/outbox"
	"github.com/countersign/countersign/models/storetest"
)

// counts is what a comment may leave behind.
type counts struct{ comments, events, notes int64 }

func count(t *testing.T, s *models.Store) counts {
	t.Helper()
	var c counts
	db := s.DB(context.Background())
	db.Model(&comment.Comment{}).Count(&c.comments)
	db.Model(&models.AuditEvent{}).Count(&c.events)
	db.Model(&outbox.Message{}).Where("kind = ?", outbox.KindThreadNote).Count(&c.notes)
	return c
}

// TestCommentsAreStoredAuditedAndToldToTheThread: anyone who may see a
// request comments on it; the comment, its request.comment audit event
// and its thread note commit together and are listed oldest first. Bad
// text and people who may not see the request change nothing.
func TestCommentsAreStoredAuditedAndToldToTheThread(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		approvals := approval.New(s, approval.Config{})
		r, err := approvals.Create(ctx, demodata.Requests(time.Now())[0]) // carol's restart
		if err != nil {
			t.Fatal(err)
		}
		svc := comment.New(s, approvals, comment.Config{Notes: outbox.CommentNotes{}})
		alice := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-alice", Display: "alice"}, Username: "alice", Roles: []string{"approver"}}
		carol := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-carol", Display: "carol"}, Username: "carol"}
		dave := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-erin", Display: "erin"}, Username: "erin"} // no role, not hers

		before := count(t, s)
		for name, body := range map[string]string{
			"empty":        "",
			"white space":  " \n\t ",
			"too long":     strings.Repeat("é", comment.MaxBytes/2+1),
			"invalid utf8": "ok \xff\xfe",
			"control":      "bell \x07",
		} {
			_, err := svc.Add(ctx, r.ID, alice, body)
			var ve *models.ValidationError
			if !errors.Is(err, models.ErrInvalid) || !errors.As(err, &ve) || ve.Field != "comment" {
				t.Errorf("%s: %v, want a validation error of field comment", name, err)
			}
		}
		if _, err := svc.Add(ctx, r.ID, dave, "let me in"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("someone who may not see it: %v, want ErrNotFound", err)
		}
		if _, err := svc.Add(ctx, "REQ-NOPE", alice, "hello"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("unknown request: %v, want ErrNotFound", err)
		}
		if got := count(t, s); got != before {
			t.Fatalf("refused comments left traces: %+v, before %+v", got, before)
		}

		exact := strings.Repeat("a", comment.MaxBytes)
		for _, c := range []struct {
			who  approval.Approver
			body string
		}{{alice, "  Is the flag fix not enough?  "}, {carol, "No: it ships tomorrow.\nWe need tonight."}, {alice, exact}} {
			if _, err := svc.Add(ctx, r.ID, c.who, c.body); err != nil {
				t.Fatalf("%s: %v", c.who.Actor.Display, err)
			}
		}
		list, err := svc.List(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 || list[0].Body != "Is the flag fix not enough?" || list[1].AuthorName != "carol" || list[2].Body != exact {
			t.Fatalf("comments %+v", list)
		}
		if !list[0].CreatedAt.Before(list[2].CreatedAt) && !list[0].CreatedAt.Equal(list[2].CreatedAt) {
			t.Errorf("not oldest first: %v then %v", list[0].CreatedAt, list[2].CreatedAt)
		}
		if got := count(t, s); got.comments != before.comments+3 || got.events != before.events+3 || got.notes != before.notes+3 {
			t.Errorf("after 3 comments: %+v, before %+v", got, before)
		}
		evs := audittest.Events(t, s)
		last := evs[len(evs)-1]
		if last.Type != "request.comment" || last.ActorID != "idp-alice" || last.RequestID != r.ID || !strings.Contains(last.Payload, exact) {
			t.Errorf("last audit event %s by %s on %s", last.Type, last.ActorID, last.RequestID)
		}
		var note outbox.Message
		s.DB(ctx).Where("kind = ?", outbox.KindThreadNote).Order("id").Take(&note)
		if note.Lane != r.ID || !strings.Contains(note.Payload, `"note":"comment"`) || !strings.Contains(note.Payload, "flag fix") {
			t.Errorf("thread note %+v", note)
		}
	})
}

// TestCommentsOfAQuietRequestStayOutOfChat: the demo's seeded requests
// say nothing in chat, comments included; without a notifier none is
// queued at all.
func TestCommentsOfAQuietRequestStayOutOfChat(t *testing.T) {
	s := storetest.SQLite(t).Open(t)
	ctx := context.Background()
	approvals := approval.New(s, approval.Config{})
	in := demodata.Requests(time.Now())[0]
	r, err := approvals.Unannounced().Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	alice := approval.Approver{Actor: models.Actor{Type: models.ActorHuman, ID: "idp-alice", Display: "alice"}, Roles: []string{"approver"}}
	for _, svc := range []*comment.Service{comment.New(s, approvals, comment.Config{Notes: outbox.CommentNotes{}}), comment.New(s, approvals, comment.Config{})} {
		if _, err := svc.Add(ctx, r.ID, alice, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	if c := count(t, s); c.comments != 2 || c.notes != 0 {
		t.Errorf("%+v: want 2 comments and no thread note", c)
	}
}
