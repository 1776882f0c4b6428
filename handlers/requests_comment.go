package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/comment"
	"github.com/countersign/countersign/templates/pages"
	"github.com/countersign/countersign/templates/partials"
	"github.com/countersign/countersign/web/session"
)

// Talk serves what people say about a request in the portal without
// deciding it: comments (anyone who may see the request) and withdrawing
// it (its requester, or an agent's sponsor, while pending).
type Talk struct {
	comments  *comment.Service
	approvals *approval.Service
	log       *slog.Logger
}

// NewTalk returns the comment and withdraw handlers. Register:
//
//	POST /requests/:id/comments → Comment
//	POST /requests/:id/withdraw → Withdraw
func NewTalk(comments *comment.Service, approvals *approval.Service, log *slog.Logger) *Talk {
	return &Talk{comments: comments, approvals: approvals, log: loggerOr(log)}
}

// commentForm is the comment form's one field (the CSRF token is checked
// by middleware).
type commentForm struct {
	Comment string `form:"comment"`
}

// Comment serves POST /requests/:id/comments: the comment is stored,
// audited and told to the chat thread, and the browser goes back to the
// request's comments. Text the domain refuses (empty, too long, not
// UTF-8) gets a 400 page that says why and keeps what was typed.
func (h *Talk) Comment(c echo.Context) error {
	u, err := signedIn(c)
	if err != nil {
		return err
	}
	id, err := requestParam(c)
	if err != nil {
		return err
	}
	var f commentForm
	if err := (&echo.DefaultBinder{}).BindBody(c, &f); err != nil {
		return err
	}
	_, err = h.comments.Add(c.Request().Context(), id, u.Approver(), f.Comment)
	var ve *models.ValidationError
	switch {
	case errors.As(err, &ve):
		return Render(c, http.StatusBadRequest, pages.CommentRefused(pages.CommentRefusedView{
			RequestID: id, RequestURL: requestPath(id),
			Form: refusedCommentForm(c, id, f.Comment, "Your comment was not posted: it "+ve.Reason+"."),
		}))
	case err != nil:
		return fmt.Errorf("comment: %w", err)
	}
	logEvent(h.log, c, slog.LevelInfo, "comment posted", slog.String("request", id), slog.String("sub", u.Subject))
	return c.Redirect(http.StatusSeeOther, requestPath(id)+"?commented=1#comments")
}

// requestParam is the request id of the path (404 when it cannot be one).
func requestParam(c echo.Context) (string, error) {
	id := models.NormalizeRequestID(c.Param("id"))
	if id == "" || len(id) > 64 {
		return "", fmt.Errorf("request %q: %w", c.Param("id"), models.ErrNotFound)
	}
	return id, nil
}

// refusedCommentForm is the comment form alone, with a draft and an error,
// for the page that refuses a comment.
func refusedCommentForm(c echo.Context, id, draft, msg string) partials.CommentsView {
	return partials.CommentsView{
		CommentPath: commentPath(id), CSRFField: session.CSRFField, CSRFToken: session.CSRFToken(c),
		CommentMax: comment.MaxBytes, Draft: draft, Error: msg, FormOnly: true,
	}
}

func commentPath(id string) string  { return requestPath(id) + "/comments" }
func withdrawPath(id string) string { return requestPath(id) + "/withdraw" }

// commentsView is the request page's comments and withdraw form for u.
// The notice confirms what u just did, from the query the handlers above
// redirect with.
func (h *Requests) commentsView(c echo.Context, u *session.User, r *models.Request) (partials.CommentsView, error) {
	v := partials.CommentsView{
		CommentPath: commentPath(r.ID), WithdrawPath: withdrawPath(r.ID),
		CSRFField: session.CSRFField, CSRFToken: session.CSRFToken(c), CommentMax: comment.MaxBytes,
		CanWithdraw: approval.MayWithdraw(r, u.Approver()),
	}
	switch {
	case c.QueryParam("commented") != "":
		v.Notice = "Your comment is posted."
	case c.QueryParam("withdrawn") != "" && r.State == models.StateCancelled:
		v.Notice = "You withdrew this request."
	}
	if h.comments == nil {
		return v, nil
	}
	list, err := h.comments.List(c.Request().Context(), r.ID)
	if err != nil {
		return v, fmt.Errorf("request page: %w", err)
	}
	for _, cm := range list {
		t := cm.CreatedAt.UTC()
		v.Comments = append(v.Comments, partials.CommentView{
			Author: firstNonEmpty(cm.AuthorName, cm.AuthorID), At: t.Format("2006-01-02 15:04 UTC") + " (" + relative(t, h.now()) + ")",
			AtISO: t.Format(time.RFC3339), Body: cm.Body,
		})
	}
	return v, nil
}
