// Package searchload measures the audit search of the built binary under
// concurrent load: its benchmark builds cmd/countersign, runs `countersign
// serve` as an OS process over a 1,000,000-event log (SQLite or
// PostgreSQL), signs an auditor in through a demo identity provider and
// sends searches from 8 and 32 concurrent clients over HTTP. It reports
// the latency percentiles the clients saw, the throughput, the server's
// CPU per search and its resident memory. See docs/BENCHMARKS.md, "Scale
// (issue 16): search under load".
package searchload
