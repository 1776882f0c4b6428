// Package listen keeps the bot on Mattermost's WebSocket and acts on what
// happens in the channels it belongs to, as it happens:
//
//   - a post that starts with an @-mention of the bot is a command, run
//     exactly like the /countersign slash command (same parser, policy,
//     capture and words), with the thread the post is in captured — the
//     thread a slash command cannot see on Mattermost up to 10.x — and the
//     answer posted in that thread;
//   - an edit or a deletion of a post that a pending request captured
//     re-reads that request's conversation at once (approvals of the old
//     content stop counting and their approvers are told), instead of
//     waiting for someone to decide.
//
// Every replica listens; the mention claims (models/mention) make sure one
// of them answers each mention once, and re-checks are idempotent. After a
// (re)connect the listener reads back the posts of the bot's channels
// since it last knew it was connected, so a mention or an edit made while
// it was away is not lost; the decision-time re-check stays the backstop
// for edits while the WebSocket is down.
package listen
