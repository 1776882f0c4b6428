package audit_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

// Benchmarks for docs/BENCHMARKS.md. Run:
//
//	go test ./models/audit -run '^$' -bench . -benchtime 3000x
//
// BenchmarkAppend and BenchmarkBareInsert write the same rows with the same
// durability (SQLite WAL + synchronous=FULL, PostgreSQL synchronous_commit=on),
// one transaction per row; the ratio of their rates is the cost of the chain.

func benchBackends(b *testing.B, fn func(b *testing.B, s *models.Store)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b).Open(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b).Open(b)) })
}

func benchEntry(i int64) audit.Entry {
	return audit.Entry{
		Type: "request.approved", Actor: models.Actor{Type: models.ActorHuman, ID: "szhbzstp3idmue387hjxadrjuw", Display: "alice"},
		RequestID: "REQ-7KM3QX9A2D", Purpose: "OOM loop, INC-4211", Action: "restart", PolicyRef: "prod-changes",
		Payload: map[string]any{"from": "pending", "to": "approved", "n": i, "content_hash": strings.Repeat("ab", 32)},
	}
}

// runWriters runs op b.N times from writers goroutines and reports rows/s
// and the process's CPU time per row (cpu-µs/row): on SQLite that is the
// whole cost of a row but its wait for the disk, a figure the disk's
// fsync latency does not move.
func runWriters(b *testing.B, writers int, op func(i int64) error) {
	var n atomic.Int64
	cpu0 := storetest.ProcessCPU()
	b.ResetTimer()
	b.SetParallelism(parallelism(writers)) // RunParallel starts parallelism × GOMAXPROCS goroutines
	if writers == 1 {
		for i := 0; i < b.N; i++ {
			if err := op(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64((storetest.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/row")
}

func BenchmarkAppend(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *models.Store) {
		for _, w := range []int{1, 8} {
			b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) {
				runWriters(b, w, func(i int64) error {
					return s.WithTx(context.Background(), func(tx *gorm.DB) error {
						_, err := audit.Append(tx, time.Now(), benchEntry(i))
						return err
					})
				})
			})
		}
	})
}

// BenchmarkBareInsert inserts the same row shape into a copy of
// audit_events with the same indexes (newBareTable) but without chain, head
// lock or hashing, with plain database/sql: one transaction per row, the
// same durability, and none of Countersign's machinery (no group commit) —
// the bare insert the audit append is compared with. BenchmarkChainVsBare
// runs both interleaved, which is how ratios should be taken.
func BenchmarkBareInsert(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *models.Store) {
		bare := newBareTable(b, s)
		for _, w := range []int{1, 8} {
			b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) { runWriters(b, w, bare.insert) })
		}
	})
}

// seedChain writes n valid chained events in large batches (fast set-up for
// the verify benchmark; the append path is measured above).
func seedChain(b *testing.B, s *models.Store, n int) {
	b.Helper()
	x := audit.NewHasher()
	prev := audit.GenesisHash
	const batch = 500
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for start := 1; start <= n; start += batch {
		var evs []models.AuditEvent
		for seq := start; seq < start+batch && seq <= n; seq++ {
			e := benchEntry(int64(seq))
			ev := models.AuditEvent{Seq: int64(seq), AtUnixUS: t0 + int64(seq)*1000, Type: e.Type, ActorType: e.Actor.Type,
				ActorID: e.Actor.ID, ActorDisplay: e.Actor.Display, RequestID: fmt.Sprintf("REQ-%010d", seq%50000), Purpose: e.Purpose,
				Action: e.Action, PolicyRef: e.PolicyRef, Payload: `{"from":"pending","n":` + strconv.Itoa(seq) + `,"to":"approved"}`, PrevHash: prev}
			ev.Hash = string(x.Sum(audit.FieldsOf(&ev)))
			prev = ev.Hash
			evs = append(evs, ev)
		}
		err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
			if err := tx.CreateInBatches(evs, 100).Error; err != nil {
				return err
			}
			return tx.Exec(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, evs[len(evs)-1].Seq, prev).Error
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify walks a chain of COUNTERSIGN_BENCH_EVENTS events (default
// 1,000,000) and, in the same run, SHA-256 over the same bytes.
func BenchmarkVerify(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	benchBackends(b, func(b *testing.B, s *models.Store) {
		seedChain(b, s, n)
		db, _ := s.SQL()
		var bytes int64
		b.Run("chain", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rep, err := audit.Verify(context.Background(), db)
				if err != nil || rep.Problem != nil || rep.Events != int64(n) {
					b.Fatalf("verify: %+v %v", rep, err)
				}
				bytes = rep.Bytes
			}
			b.ReportMetric(float64(int64(n)*int64(b.N))/b.Elapsed().Seconds(), "events/s")
			b.SetBytes(bytes)
		})
		b.Run("raw-sha256", func(b *testing.B) {
			// The same number of bytes in event-sized pieces.
			piece := make([]byte, bytes/int64(n))
			b.SetBytes(bytes)
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					_ = sha256.Sum256(piece)
				}
			}
			b.ReportMetric(float64(int64(n)*int64(b.N))/b.Elapsed().Seconds(), "events/s")
		})
	})
}
