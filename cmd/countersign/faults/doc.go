// Package faults is Countersign's fault suite and load benchmark. It holds
// only tests, behind the build tag "faults", so a plain `go test ./...`
// does not run them:
//
//	go test -tags faults ./cmd/countersign/faults                 # the fault suite
//	go test -tags faults -run '^$' -bench Figures -benchtime 1x \
//	        -timeout 60m ./cmd/countersign/faults                  # the load figures
//
// The suite builds the real binary, writes a real configuration and policy,
// and runs `countersign serve` as OS processes against a fake Mattermost
// (web/mattermost/mmfake) served over HTTP, with an example executor that
// runs approved actions. Concurrent clients create requests through the
// agent API (distinct Idempotency-Keys and the same key raced) and the
// slash command, cancel them, and redeem grants, while the suite kills the
// server with SIGKILL at random moments and restarts it — on SQLite, on
// PostgreSQL (PostgreSQL itself killed too, when allowed), and with two
// replicas on one PostgreSQL. Afterwards it checks what Countersign
// promised: every acknowledged request is stored with its audit events,
// one request per idempotency key, one transition out of each state, an
// audit chain that verifies, and an outbox that lost and duplicated
// nothing. It reports the figures it measured.
//
// Sizes and switches come from COUNTERSIGN_TEST_FAULTS_* variables (see
// settings in harness_test.go and README.md, "Fault suite").
package faults
