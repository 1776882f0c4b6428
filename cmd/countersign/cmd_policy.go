package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/countersign/countersign/models/policy"
)

const policyUsage = `Usage:
  countersign policy lint FILE           check a policy file: YAML, fields, CEL types,
                                         roles, actions, windows (problems as FILE:LINE)
  countersign policy test FILE [CASES]   evaluate sample requests and compare with their
                                         expected outcomes (CASES defaults to FILE with
                                         .yaml replaced by .cases.yaml)
Exit status: 0 all good, 1 problems or failed cases, 2 bad usage.
`

func cmdPolicy(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{msg: "policy: expected a subcommand: lint or test"}
	}
	switch args[0] {
	case "lint":
		return cmdPolicyLint(args[1:], stdout)
	case "test":
		return cmdPolicyTest(args[1:], stdout)
	case "--help", "-h", "help":
		fmt.Fprint(stdout, policyUsage)
		return errHelpShown
	default:
		return &usageError{msg: fmt.Sprintf("policy: unknown subcommand %q (lint, test)", args[0])}
	}
}

// loadPolicyReport loads path and prints its problems one per line.
func loadPolicyReport(path string, w io.Writer) (*policy.Policy, error) {
	p, err := policy.Load(path)
	if err == nil {
		return p, nil
	}
	if le, ok := policy.AsLoadError(err); ok {
		for _, pr := range le.Problems {
			fmt.Fprintln(w, pr.String())
		}
		noun := "problems"
		if len(le.Problems) == 1 {
			noun = "problem"
		}
		return nil, fmt.Errorf("policy: %s: %d %s; nothing of it was loaded", path, len(le.Problems), noun)
	}
	return nil, err
}

func cmdPolicyLint(args []string, stdout io.Writer) error {
	if wantsHelp(args) {
		fmt.Fprint(stdout, policyUsage)
		return errHelpShown
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return &usageError{msg: "policy lint: expected exactly one FILE"}
	}
	p, err := loadPolicyReport(args[0], stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK (%s): %d roles, %d windows, %d actions, %d rules\n",
		args[0], p.Ref, len(p.Roles()), len(p.Windows()), len(p.Actions()), p.RuleCount())
	return nil
}

// errCasesFailed: some cases did not get their expected outcome.
var errCasesFailed = errors.New("policy test: cases failed")

func cmdPolicyTest(args []string, stdout io.Writer) error {
	if wantsHelp(args) {
		fmt.Fprint(stdout, policyUsage)
		return errHelpShown
	}
	if len(args) < 1 || len(args) > 2 || strings.HasPrefix(args[0], "-") {
		return &usageError{msg: "policy test: expected FILE [CASES]"}
	}
	file := args[0]
	cases := strings.TrimSuffix(strings.TrimSuffix(file, ".yaml"), ".yml") + ".cases.yaml"
	if len(args) == 2 {
		cases = args[1]
	} else if _, err := os.Stat(cases); err != nil {
		return &usageError{msg: fmt.Sprintf("policy test: no CASES given and %s does not exist", cases)}
	}
	p, err := loadPolicyReport(file, stdout)
	if err != nil {
		return err
	}
	cs, err := policy.LoadCases(cases)
	if err != nil {
		if le, ok := policy.AsLoadError(err); ok {
			for _, pr := range le.Problems {
				fmt.Fprintln(stdout, pr.String())
			}
			return fmt.Errorf("policy test: %s: cases file refused", cases)
		}
		return err
	}
	failed := 0
	for _, c := range cs {
		r := p.Run(c)
		status := "PASS"
		if !r.Pass {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s  %s: %s\n", status, c.Name, describeResult(r))
		if !r.Pass {
			fmt.Fprintf(stdout, "      %s\n", r.Why)
		}
	}
	fmt.Fprintf(stdout, "%d cases, %d passed, %d failed (policy %s)\n", len(cs), len(cs)-failed, failed, p.Ref)
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", errCasesFailed, failed, len(cs))
	}
	return nil
}

// describeResult says which rule matched and why.
func describeResult(r policy.CaseResult) string {
	if r.Invalid != nil {
		return "refused by the catalogue: " + r.Invalid.Error()
	}
	o := r.Outcome
	rule := "no rule matched"
	if o.Rule != "" {
		rule = "rule " + o.Rule
	}
	s := fmt.Sprintf("%s by %s — %s", o.Kind, rule, o.Explanation)
	if o.Err != nil {
		s += " [error: " + o.Err.Error() + "]"
	}
	return s
}
