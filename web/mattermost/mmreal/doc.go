// Package mmreal runs a real Mattermost server (9.10, from
// ../shared/mattermost beside the repository) for integration tests and
// builds, through its REST API, the world a test needs: a team, channels,
// people with passwords and logged-in clients, Countersign's bot with an
// access token, an incoming webhook and the /countersign slash command.
// Its helpers then act as the people do: run a slash command through
// POST /api/v4/commands/execute, post, reply, edit, delete, post through
// the webhook and click message buttons.
//
// Starting a server takes seconds and a few hundred megabytes, so a test
// binary shares one (Shared, stopped by Main from TestMain); every test
// builds its own World on it (NewWorld), with names of its own, so tests
// never see each other's posts. Start gives a test a server of its own.
//
// Where the server is absent (no ../shared/mattermost, or no PostgreSQL
// at 127.0.0.1:5432) tests skip with a message; with
// COUNTERSIGN_TEST_REQUIRE_MATTERMOST=1 or CI=true they fail instead.
//
// Keep mmfake for fault injection: this server cannot be made to fail on
// cue, it only shows what Mattermost really sends and accepts.
package mmreal
