package handlers

import (
	"context"
	"errors"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/execution"
	"github.com/countersign/countersign/templates/pages"
)

// ExecutionReader loads a request's execution (*execution.Service; the
// tests' fakes).
type ExecutionReader interface {
	Get(ctx context.Context, requestID string) (*execution.Execution, error)
}

// executionView builds the "after approval" panel; nil when nothing ran.
func (h *Requests) executionView(ctx context.Context, r *models.Request) (*pages.ExecutionView, error) {
	if h.execs == nil {
		return nil, nil
	}
	e, err := h.execs.Get(ctx, r.ID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &pages.ExecutionView{
		Executor: e.Executor, Mode: string(e.Mode), State: string(e.State), Attempts: e.Attempts,
		Output: e.Output, Error: e.Error, ReportedBy: redeemerWords(r, e.ReportedBy),
	}
	v.OutputDigest = e.OutputDigest
	if e.Output != "" {
		v.OutputBlock = jsonBlock(e.Output)
	}
	if e.StartedAt != nil && e.EndedAt != nil {
		end := "15:04:05 UTC"
		if e.StartedAt.UTC().YearDay() != e.EndedAt.UTC().YearDay() || e.StartedAt.UTC().Year() != e.EndedAt.UTC().Year() {
			end = "2006-01-02 15:04:05 UTC"
		}
		v.Ran = e.StartedAt.UTC().Format("2006-01-02 15:04:05") + " – " + e.EndedAt.UTC().Format(end)
		if d := durationText(*e.StartedAt, *e.EndedAt); d != "" {
			v.Ran += " (" + d + ")"
		}
	}
	if e.FinishedAt != nil {
		v.FinishedAt = e.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return v, nil
}
