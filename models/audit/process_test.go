package audit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/storetest"
)

const helperEnv = "COUNTERSIGN_TEST_AUDIT_HELPER_DSN"

// TestMain turns the test binary into a second Countersign process when
// TestTwoProcessesShareOneChain starts it with helperEnv set.
func TestMain(m *testing.M) {
	if dsn := os.Getenv(helperEnv); dsn != "" {
		os.Exit(helperAppend(dsn))
	}
	os.Exit(m.Run())
}

// helperAppend appends from 4 writers and returns the exit status.
func helperAppend(dsn string) int {
	n, _ := strconv.Atoi(os.Getenv(helperEnv + "_N"))
	s, err := models.Open(context.Background(), models.OpenOptions{DSN: dsn})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tag := fmt.Sprintf("p%d-w%d-", os.Getpid(), w)
			for i := 0; i < n; i++ {
				err := s.WithTx(context.Background(), func(tx *gorm.DB) error {
					_, err := audit.Append(tx, time.Now(), audit.Entry{Type: "test.event",
						Actor: models.Actor{Type: models.ActorHuman, ID: "u-" + tag}, RequestID: fmt.Sprintf("REQ-%s%d", tag, i)})
					return err
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					failed.Store(true)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	return 0
}

// TestTwoProcessesShareOneChain starts two OS processes appending
// concurrently (4 writers each) to one database and checks that the result
// is one intact chain holding every event.
func TestTwoProcessesShareOneChain(t *testing.T) {
	const perWriter = 25
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t) // creates and migrates the schema first
		procs := make([]*exec.Cmd, 2)
		outs := make([][]byte, 2)
		var wg sync.WaitGroup
		for i := range procs {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"="+b.DSN(), helperEnv+"_N="+strconv.Itoa(perWriter))
			procs[i] = cmd
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out, err := procs[i].CombinedOutput()
				if err != nil {
					outs[i] = append(out, []byte(err.Error())...)
				}
			}(i)
		}
		wg.Wait()
		for i, o := range outs {
			if o != nil {
				t.Fatalf("process %d failed: %s", i, o)
			}
		}
		rep := verify(t, s)
		if want := int64(2 * 4 * perWriter); rep.Problem != nil || rep.Events != want {
			t.Fatalf("want one intact chain of %d events, got %d, %v", want, rep.Events, rep.Problem)
		}
		var distinct int64
		if err := s.DB(context.Background()).Raw(`SELECT COUNT(DISTINCT actor_id) FROM audit_events`).Scan(&distinct).Error; err != nil {
			t.Fatal(err)
		}
		if distinct != 8 {
			t.Fatalf("want events from 8 writers in 2 processes, got %d", distinct)
		}
	})
}
