package approval_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/approval"
	"github.com/countersign/countersign/models/storetest"
)

// BenchmarkCreateConcurrent stores requests shaped like a slash command's
// (7 captured posts, no tool chain) from 32 concurrent callers through
// group commit: the database share of the slash-command benchmark, without
// HTTP or Mattermost.
//
//	go test ./models/approval/ -run '^$' -bench CreateConcurrent -benchtime 3s
func BenchmarkCreateConcurrent(b *testing.B) {
	in := newRequest()
	in.ToolCalls = nil
	for i := len(in.Posts); i < 7; i++ {
		in.Posts = append(in.Posts, models.ConversationPost{PostSnapshot: models.PostSnapshot{PostID: fmt.Sprintf("p%d", i+1), RootID: "p1", AuthorID: "u-alice", AuthorName: "alice", AuthorKind: models.AuthorHuman,
			ChannelMember: true, Message: "a reply of ordinary length, with a link https://example.com/x", CreateAt: int64(i + 1)},
		})
	}
	for _, bk := range []storetest.Backend{storetest.SQLite(b), storetest.Postgres(b)} {
		b.Run(bk.Name, func(b *testing.B) {
			svc := approval.New(bk.Open(b), approval.Config{})
			b.SetParallelism(16) // 32 callers on 2 CPUs
			cpu0 := storetest.ProcessCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Create(context.Background(), in); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64((storetest.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/request")
		})
	}
}

// BenchmarkCreateDecideOne creates a request and approves it (two
// approvers, the second approval moves it), one caller at a time: three
// write transactions that share no commit, so each pays its statements in
// full (on SQLite, their preparation when it is not kept) and a durable
// commit.
//
//	go test ./models/approval/ -run '^$' -bench CreateDecideOne -benchtime 500x
func BenchmarkCreateDecideOne(b *testing.B) {
	for _, bk := range []storetest.Backend{storetest.SQLite(b), storetest.Postgres(b)} {
		b.Run(bk.Name, func(b *testing.B) {
			svc := newSvc(bk.Open(b), approval.Config{})
			cpu0 := storetest.ProcessCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := svc.Create(context.Background(), humanRequest())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := decide(svc, r, aliceA, models.VerdictApprove, ""); err != nil {
					b.Fatal(err)
				}
				if out, err := decide(svc, r, bobA, models.VerdictApprove, ""); err != nil || !out.Transitioned {
					b.Fatalf("decide: %+v %v", out, err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
			b.ReportMetric(float64((storetest.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/request")
		})
	}
}
