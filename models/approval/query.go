package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
)

// Paging limits for lists.
const (
	DefaultPageSize = 25
	MaxPageSize     = 100
)

// Filter narrows a request list. Zero values mean "any".
type Filter struct {
	States []models.State
	// Requester matches the requester's id or chat username.
	Requester string
	// Channel matches the channel's id or name.
	Channel string
	Action  string
	// Purpose matches requests whose purpose contains these words, in
	// this order, ignoring case.
	Purpose string
	// ExpiringFirst orders by expiry, soonest first, instead of newest
	// first: the order an approver triages pending requests in.
	ExpiringFirst bool
	// Limit is the page size (DefaultPageSize when 0, at most MaxPageSize).
	Limit int
	// After is the opaque cursor of the previous page's last item.
	After string
}

// Page is one page of requests, in the filter's order, and the cursor of the next
// page ("" when this is the last).
type Page struct {
	Items []models.Request
	Next  string
}

// cursor is a position in the list's order: the creation time (newest
// first) or the expiry (soonest first) of the last item, and its id.
type cursor struct {
	created time.Time
	id      string
}

func (c cursor) String() string {
	return strconv.FormatInt(c.created.UTC().UnixMicro(), 36) + "." + c.id
}

func parseCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	ts, id, ok := strings.Cut(s, ".")
	us, err := strconv.ParseInt(ts, 36, 64)
	if !ok || err != nil || !strings.HasPrefix(id, "REQ-") || len(id) > 64 {
		return nil, models.Invalid("after", "is not a valid page cursor")
	}
	return &cursor{created: time.UnixMicro(us).UTC(), id: id}, nil
}

func (f *Filter) validate() error {
	for _, st := range f.States {
		if !st.Valid() {
			return models.Invalid("state", fmt.Sprintf("unknown state %q", st))
		}
	}
	if f.Limit < 0 {
		return models.Invalid("limit", "must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = DefaultPageSize
	}
	f.Limit = min(f.Limit, MaxPageSize)
	for name, v := range map[string]string{"requester": f.Requester, "channel": f.Channel, "action": f.Action, "purpose": f.Purpose} {
		if len(v) > 128 {
			return models.Invalid(name, "is too long")
		}
	}
	return nil
}

// apply adds the filter's conditions and the keyset position to q.
func (f *Filter) apply(q *gorm.DB) (*gorm.DB, error) {
	if len(f.States) > 0 {
		q = q.Where("state IN ?", f.States)
	}
	if f.Requester != "" {
		q = q.Where("(requester_id = ? OR LOWER(requester_name) = ?)", f.Requester, strings.ToLower(strings.TrimPrefix(f.Requester, "@")))
	}
	if f.Channel != "" {
		q = q.Where("(channel_id = ? OR LOWER(channel_name) = ?)", f.Channel, strings.ToLower(strings.TrimPrefix(f.Channel, "~")))
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Purpose != "" {
		q = q.Where("LOWER(purpose) LIKE ? ESCAPE '\\'", "%"+likeEscape(strings.ToLower(f.Purpose))+"%")
	}
	c, err := parseCursor(f.After)
	if err != nil {
		return nil, err
	}
	if f.ExpiringFirst {
		if c != nil {
			q = q.Where("(expires_at > ? OR (expires_at = ? AND id > ?))", c.created, c.created, c.id)
		}
		return q.Order("expires_at ASC").Order("id ASC").Limit(f.Limit + 1), nil
	}
	if c != nil {
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", c.created, c.created, c.id)
	}
	return q.Order("created_at DESC").Order("id DESC").Limit(f.Limit + 1), nil
}

// likeEscape makes s match literally inside a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

func (s *Service) page(ctx context.Context, f Filter, scope func(*gorm.DB) *gorm.DB) (*Page, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	q, err := f.apply(scope(s.store.DB(ctx).Model(&models.Request{})))
	if err != nil {
		return nil, err
	}
	var items []models.Request
	if err := q.Find(&items).Error; err != nil {
		return nil, fmt.Errorf("approval: list requests: %w", err)
	}
	p := &Page{Items: items}
	if len(items) > f.Limit {
		p.Items = items[:f.Limit]
		last := p.Items[f.Limit-1]
		at := last.CreatedAt
		if f.ExpiringFirst {
			at = last.ExpiresAt
		}
		p.Next = cursor{created: at, id: last.ID}.String()
	}
	return p, nil
}

// List returns requests matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) (*Page, error) {
	return s.page(ctx, f, func(q *gorm.DB) *gorm.DB { return q })
}

// ListActionable returns the pending, unexpired requests a may decide and
// has not decided yet, in f's order. The same rules as Check apply, in SQL.
func (s *Service) ListActionable(ctx context.Context, a Approver, f Filter) (*Page, error) {
	roleCond, roleArgs := s.roleCondition(a)
	if roleCond == "" {
		return &Page{}, nil
	}
	f.States = []models.State{models.StatePending}
	now := s.clock()
	name := strings.ToLower(a.Username)
	p, err := s.page(ctx, f, func(q *gorm.DB) *gorm.DB {
		q = q.Where(roleCond, roleArgs...).Where("expires_at > ?", now).
			Where("requester_id <> ? AND LOWER(requester_name) <> ?", a.Actor.ID, name).
			Where("NOT EXISTS (SELECT 1 FROM decisions d WHERE d.request_id = requests.id AND d.approver_id = ? AND d.content_hash = requests.content_hash)", a.Actor.ID)
		if !s.cfg.SponsorMayApprove {
			q = q.Where("(requester_type <> ? OR (sponsor_id <> ? AND LOWER(sponsor_name) <> ?))", models.ActorAgent, a.Actor.ID, name)
		}
		return q
	})
	if err != nil {
		return nil, err
	}
	// The SQL role match leaves out the escalation time (an escalation
	// role counts only once it is due); the domain rule has the last word.
	p.Items = slices.DeleteFunc(p.Items, func(r models.Request) bool { return !s.mayDecide(&r, a) })
	return p, nil
}

// ListByRequester returns requests made by the person with this chat
// username (or id), newest first.
func (s *Service) ListByRequester(ctx context.Context, who string, limit int) ([]models.Request, error) {
	if who == "" {
		return nil, nil
	}
	p, err := s.List(ctx, Filter{Requester: who, Limit: limit})
	if err != nil {
		return nil, err
	}
	return p.Items, nil
}

// DecisionRow is a recorded decision with what it was about.
type DecisionRow struct {
	models.Decision
	Action  string
	Purpose string
	State   models.State
}

// RecentDecisions returns the latest decisions, newest first.
func (s *Service) RecentDecisions(ctx context.Context, limit int) ([]DecisionRow, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	var rows []DecisionRow
	err := s.store.DB(ctx).Table("decisions").
		Select("decisions.*, requests.action AS action, requests.purpose AS purpose, requests.state AS state").
		Joins("JOIN requests ON requests.id = decisions.request_id").
		Order("decisions.created_at DESC").Order("decisions.id DESC").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("approval: recent decisions: %w", err)
	}
	return rows, nil
}

// Counts returns how many requests are in each state.
func (s *Service) Counts(ctx context.Context) (map[models.State]int64, error) {
	var rows []struct {
		State models.State
		N     int64
	}
	if err := s.store.DB(ctx).Model(&models.Request{}).Select("state, COUNT(*) AS n").Group("state").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("approval: count requests: %w", err)
	}
	out := map[models.State]int64{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

// TriggeredBy returns the newest request the Mattermost post postID
// triggered (a mention's, an agent's proposal), or models.ErrNotFound: one
// indexed lookup, for callers that only need to know whether a post
// already made a request.
func (s *Service) TriggeredBy(ctx context.Context, postID string) (*models.Request, error) {
	var r models.Request
	err := s.store.DB(ctx).Where("trigger_post_id = ?", postID).Order("created_at DESC").Order("id DESC").Limit(1).Find(&r).Error
	if err != nil {
		return nil, fmt.Errorf("approval: request triggered by post %s: %w", postID, err)
	}
	if r.ID == "" || postID == "" {
		return nil, fmt.Errorf("approval: request triggered by post %s: %w", postID, models.ErrNotFound)
	}
	return &r, nil
}

// FindByPost returns the request a Mattermost post belongs to: the newest
// one it triggered (a slash command's or an agent's proposal), else the
// newest captured from the thread it is the root of, else one that
// captured it or saw it as later discussion, else the one Countersign's
// own message (request message, decision reply, DM, follow-up) is about.
func (s *Service) FindByPost(ctx context.Context, postID string) (*models.Request, error) {
	if postID == "" {
		return nil, fmt.Errorf("approval: request for post: %w", models.ErrNotFound)
	}
	// The request the post triggered wins over one merely captured from
	// the thread the post is the root of; then the posts the request
	// captured or saw later, then Countersign's own messages about it.
	if r, err := s.TriggeredBy(ctx, postID); !errors.Is(err, models.ErrNotFound) {
		return r, err
	}
	var root models.Request
	err := s.store.DB(ctx).Where("root_post_id = ?", postID).Order("created_at DESC").Order("id DESC").Limit(1).Find(&root).Error
	if err != nil {
		return nil, fmt.Errorf("approval: request for post %s: %w", postID, err)
	}
	if root.ID != "" {
		return &root, nil
	}
	// Newest first: the latest request that captured or posted it.
	for _, q := range []struct{ table, newest string }{
		{"conversation_posts", "id DESC"}, {"later_posts", "id DESC"},
		{"request_chat_posts", "created_at DESC"}, {"outbox_messages", "id DESC"},
	} {
		var ids []string
		table := q.table
		err := s.store.DB(ctx).Table(table).Where("post_id = ?", postID).Order(q.newest).Limit(1).Pluck("request_id", &ids).Error
		if err != nil {
			return nil, fmt.Errorf("approval: request for post %s: %s: %w", postID, table, err)
		}
		if len(ids) == 1 && ids[0] != "" {
			return s.Get(ctx, ids[0])
		}
	}
	return nil, fmt.Errorf("approval: request for post %s: %w", postID, models.ErrNotFound)
}

// LoadTriage fills in what a list row needs to show a request's progress
// and risks (models.Request.Tally, models.Request.Risks): its decisions,
// and of its posts only the provenance and edit fields, not their text.
// Two queries for the whole page, whatever its length.
func (s *Service) LoadTriage(ctx context.Context, items []models.Request) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	at := make(map[string]*models.Request, len(items))
	for i := range items {
		ids[i] = items[i].ID
		at[items[i].ID] = &items[i]
		items[i].Decisions, items[i].Posts = nil, nil
	}
	db := s.store.DB(ctx)
	var decisions []models.Decision
	if err := db.Where("request_id IN ?", ids).Order("id").Find(&decisions).Error; err != nil {
		return fmt.Errorf("approval: decisions of a page: %w", err)
	}
	for _, d := range decisions {
		r := at[d.RequestID]
		r.Decisions = append(r.Decisions, d)
	}
	var posts []models.ConversationPost
	err := db.Select("request_id", "author_kind", "author_name", "override_username", "edit_at", "delete_at").
		Where("request_id IN ?", ids).Where("(author_kind = ? AND override_username <> '') OR edit_at > 0 OR delete_at > 0", models.AuthorWebhook).
		Find(&posts).Error
	if err != nil {
		return fmt.Errorf("approval: posts of a page: %w", err)
	}
	for _, p := range posts {
		r := at[p.RequestID]
		r.Posts = append(r.Posts, p)
	}
	return nil
}
