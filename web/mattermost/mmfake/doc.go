// Package mmfake is an in-process fake of the Mattermost API v4 for tests.
//
// It exists so that Countersign's Mattermost code is tested over real HTTP
// with the real client (model.Client4) and the real wire types from
// github.com/mattermost/mattermost/server/public/model, instead of with
// function-level mocks that would agree with whatever the code assumes.
// Every response body is a model type encoded the way the server encodes
// it; the world it serves can be loaded from payloads captured from a real
// Mattermost 9.10 server (testdata/, see testdata/README.md) and extended
// programmatically (users, bots, teams, channels, members, posts, edits,
// deletions).
//
// It also plays Mattermost's other role: SlashCommand and PostAction send
// requests to an integration exactly as Mattermost does (same header
// names and order, same form fields or JSON body), so the endpoints that
// receive them are tested against what a real server sends.
//
// Failure injection (FailNext, Inject, SetLatency) and the request record
// (Requests, Count) support retry, timeout and "called once" assertions.
// README.md explains how to extend it.
package mmfake
