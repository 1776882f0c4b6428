package bundle

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/models/audit"
	"github.com/countersign/countersign/models/audit/proof"
)

// BenchmarkVerifyBundle verifies a bundle of COUNTERSIGN_BENCH_EVENTS events
// (default 1,000,000; a checkpoint every 10,000) generated without a
// database, and in the same run reads the same file through raw SHA-256, so
// the ratio of the two can be recorded. Run:
//
//	go test ./models/audit -run '^$' -bench Verify -benchtime 3x
//
// "verify" uses one hashing worker per CPU (GOMAXPROCS), "verify-1-worker"
// one, and "raw-sha256" is a single SHA-256 over every byte of the file,
// read in the same 1 MiB chunks. The log line gives verify ÷ raw.
func BenchmarkVerifyBundle(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("COUNTERSIGN_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	key, _, err := proof.GenerateKey("bench.countersign.test/audit")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bundle.jsonl")
	size, err := writeSyntheticBundle(path, key, n, 10_000)
	if err != nil {
		b.Fatal(err)
	}
	rates := map[string]float64{}
	run := func(name string, fn func() error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
			eps := float64(int64(n)*int64(b.N)) / b.Elapsed().Seconds()
			b.ReportMetric(eps, "events/s")
			rates[name] = eps
		})
	}
	verify := func(workers int) func() error {
		return func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := (&Verifier{Keys: []string{key.VerifierKey()}, Workers: workers}).Verify(f)
			if err != nil {
				return err
			}
			if !rep.Valid() || rep.Events != int64(n) {
				var sb strings.Builder
				_ = rep.WriteText(&sb)
				return fmt.Errorf("benchmark bundle does not verify:\n%s", sb.String())
			}
			return nil
		}
	}
	run("verify", verify(0))
	run("verify-1-worker", verify(1))
	run("raw-sha256", func() error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		buf := make([]byte, bundleChunk)
		if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
			return err
		}
		_ = h.Sum(nil)
		return nil
	})
	if raw := rates["raw-sha256"]; raw > 0 {
		b.Logf("%d events, %d bytes (%d per event), GOMAXPROCS=%d: verify %.0f events/s = %.2f× raw SHA-256 (%.0f events/s); one worker %.2f×",
			n, size, size/int64(n), runtime.GOMAXPROCS(0), rates["verify"], rates["verify"]/raw, raw, rates["verify-1-worker"]/raw)
	}
}

// writeSyntheticBundle writes a valid bundle of n events shaped like real
// approval events, with a signed checkpoint every interval events and at
// the end, through the same encoder WriteBundle uses.
func writeSyntheticBundle(path string, key *proof.Key, n, interval int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	h := bundleHeader{Kind: "header", Format: Format, Origin: key.Origin(), From: 1, To: int64(n), PrevHash: audit.GenesisHash,
		Left: [][]byte{}, Keys: []string{key.VerifierKey()}, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	enc, err := newBundleEncoder(w, &h)
	if err != nil {
		return 0, err
	}
	x := audit.NewHasher()
	prev := []byte(audit.GenesisHash)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	contentHash := strings.Repeat("ab", 32)
	for seq := int64(1); seq <= int64(n); seq++ {
		fl := audit.Fields{Seq: seq, AtUnixUS: t0 + seq*1000, Type: []byte("request.approved"), ActorType: []byte("human"),
			ActorID: []byte("szhbzstp3idmue387hjxadrjuw"), ActorDisplay: []byte("alice"), RequestID: []byte(fmt.Sprintf("REQ-%010d", seq%50000)),
			Purpose: []byte("OOM loop in checkout, INC-4211"), Action: []byte("restart"), PolicyRef: []byte("prod-changes"),
			Payload:  []byte(`{"content_hash":"` + contentHash + `","from":"pending","n":` + strconv.FormatInt(seq, 10) + `,"to":"approved"}`),
			PrevHash: prev}
		hash := append([]byte(nil), x.Sum(&fl)...)
		if err := enc.event(&fl, hash); err != nil {
			return 0, err
		}
		prev = hash
		if seq%int64(interval) == 0 || seq == int64(n) {
			root, err := enc.rng.GetRootHash(nil)
			if err != nil {
				return 0, err
			}
			signed, err := proof.SignCheckpoint(key, seq, root)
			if err != nil {
				return 0, err
			}
			next := min(seq+int64(interval), int64(n))
			if next == seq {
				next = 0
			}
			if err := enc.checkpoint(seq, signed, enc.rng.Hashes(), next, nil, nil); err != nil {
				return 0, err
			}
		}
	}
	if err := enc.end(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
