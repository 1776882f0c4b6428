package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
)

// TestEvaluateConcurrently: one Policy evaluated from many goroutines at
// once — its pooled activations, the parameters read by number, the
// programs and compiled regular expressions all shared — gives every
// request the outcome the plain activation gives it alone, whatever
// request ran just before on the same pooled value.
func TestEvaluateConcurrently(t *testing.T) {
	policies := map[string]*Policy{
		"example":                          mustLoad(t, "../../docs/policy.example.yaml"),
		"demo":                             mustLoad(t, "../../cmd/countersign/demopolicy/policy.yaml"),
		"bench every-rule-runs-cel":        benchPolicy(t, benchEveryRuleRunsCEL),
		"bench every-rule-calls-functions": benchPolicy(t, benchEveryRuleCalls),
	}
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(len(name))))
			inputs := append(generatedInputs(rng, p, 400), benchInput())
			want := make([]Outcome, len(inputs))
			for i, in := range inputs {
				want[i] = evaluatePlain(t, p, in)
			}
			const workers = 16
			errs := make(chan string, workers)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					order := rand.New(rand.NewPCG(uint64(w), 7)).Perm(len(inputs))
					for round := 0; round < 3; round++ {
						for _, i := range order {
							if d := outcomeDiff(p.Evaluate(inputs[i]), want[i]); d != "" {
								errs <- fmt.Sprintf("worker %d, input %+v: %s", w, inputs[i], d)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}
}

// outcomeDiff says how two outcomes differ (errors compared by their
// text), empty when they do not.
func outcomeDiff(got, want Outcome) string {
	ge, we := fmt.Sprint(got.Err), fmt.Sprint(want.Err)
	got.Err, want.Err = nil, nil
	if ge != we || !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("got %+v (err %s), want %+v (err %s)", got, ge, want, we)
	}
	return ""
}
