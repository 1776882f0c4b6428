// Package mattermost is Countersign's bot adapter for Mattermost API v4.
//
// A request is born in chat, so what approvers read must be the
// conversation as it really was, with the real author of every post. The
// adapter therefore:
//
//   - captures a thread (from its root, any reply, or a permalink of this
//     site) or, when no thread is named, a bounded window of the channel's
//     recent posts (Capture);
//   - resolves every author from the server (GET /users/{id}, and for bots
//     GET /bots/{id} for the owner) instead of trusting props such as
//     from_bot, which any user can set; webhook and slash-command posts are
//     recorded as webhook posts under the id of the user behind them, with
//     the name they displayed kept apart as OverrideUsername;
//   - captures again when a decision is made (Recapture) and reports which
//     posts were edited or deleted since, and which were added after;
//   - posts, updates and DMs for the messages Countersign sends back.
//
// Every call has its own timeout and is retried with exponential backoff
// and jitter on 5xx, 429 and transport failures (never on other 4xx);
// creates carry a pending_post_id so a retry cannot post twice. Errors
// match the models sentinels (ErrNotFound, ErrForbidden, ErrInvalid) or
// ErrUnavailable with errors.Is, so callers decide once what to show and
// what to queue for later. The bot token never appears in logs or errors.
//
// Calls to Mattermost are slow and may fail: never make them inside a
// database transaction.
package mattermost
