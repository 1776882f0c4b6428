package audit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/storetest"
)

const helperEnv = "COUNTERSIGN_AUDIT_HELPER_DSN"

// TestHelperAppendProcess is not a test on its own: TestTwoProcessesShareOneChain
// runs the test binary again with helperEnv set, making it a second
// Countersign process that appends to the shared database.
func TestHelperAppendProcess(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	if dsn == "" {
		t.Skip("helper process for TestTwoProcessesShareOneChain")
	}
	n, _ := strconv.Atoi(os.Getenv(helperEnv + "_N"))
	s, err := models.Open(context.Background(), models.OpenOptions{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			appendN(t, s, n, fmt.Sprintf("p%d-w%d-", os.Getpid(), w))
		}(w)
	}
	wg.Wait()
}

// TestTwoProcessesShareOneChain starts two OS processes appending
// concurrently (4 writers each) to one database and checks that the result
// is one intact chain holding every event.
func TestTwoProcessesShareOneChain(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("inside a helper process")
	}
	const perWriter = 25
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		s := b.Open(t) // creates and migrates the schema first
		procs := make([]*exec.Cmd, 2)
		outs := make([][]byte, 2)
		var wg sync.WaitGroup
		for i := range procs {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppendProcess$", "-test.count=1")
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
