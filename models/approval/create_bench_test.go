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
		})
	}
}
