#!/usr/bin/env bash
# The real-Mattermost slash-command load (TestRealSlashCommandLoad: 200
# commands at 20/s) with Countersign on a CPU of its own: the test process,
# which runs the Countersign server, on CPU 0; the Mattermost server and
# PostgreSQL on CPU 1 (re-applied every half second, so the Mattermost the
# test starts and PostgreSQL's new backends are caught). PostgreSQL's
# processes get every CPU back at the end.
#
# Why: on a 2-vCPU machine Mattermost alone needs more than one CPU at
# 20 commands/s; sharing both CPUs with it, Countersign's own share of each
# command (its access log's latency_ms minus mattermost_ms) is mostly time
# spent waiting for a CPU Mattermost holds. In a deployment they do not
# share CPUs. See docs/BENCHMARKS.md, "Slash command through a real
# Mattermost (issue 11)".
#
# Run from the repository root, with PostgreSQL on 127.0.0.1:5432 and the
# real Mattermost in ../shared/mattermost:
#   docs/bench/slash-command-own-cpu.sh [test name pattern]
set -u
command -v taskset >/dev/null || { echo "needs taskset (util-linux)" >&2; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "needs at least 2 CPUs" >&2; exit 2; }
( while true; do
    for p in $(pgrep -f 'server-9.10/bin/mattermost') $(pgrep -x postgres) $(pgrep -f '^postgres:'); do
      taskset -acp 1 "$p" >/dev/null 2>&1
    done
    sleep 0.5
  done ) &
pinner=$!
restore() {
  kill "$pinner" 2>/dev/null
  for p in $(pgrep -x postgres) $(pgrep -f '^postgres:'); do taskset -acp "0-$(($(nproc) - 1))" "$p" >/dev/null 2>&1; done
}
trap restore EXIT
COUNTERSIGN_TEST_MATTERMOST_LOAD=1 \
COUNTERSIGN_TEST_POSTGRES="${COUNTERSIGN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}" \
  taskset -c 0 go test -count=1 -run "${1:-TestRealSlashCommandLoad}" -v ./cmd/countersign
