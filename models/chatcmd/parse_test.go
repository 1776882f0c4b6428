package chatcmd

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/countersign/countersign/models"
	"github.com/countersign/countersign/models/policy"
)

func TestParse(t *testing.T) {
	cases := []struct {
		text string
		want Command
	}{
		{"", Command{Verb: VerbHelp}},
		{"  help ", Command{Verb: VerbHelp}},
		{"status REQ-7KM3QX9A2D", Command{Verb: VerbStatus, RequestID: "REQ-7KM3QX9A2D"}},
		{"cancel 7km3qx9a2d", Command{Verb: VerbCancel, RequestID: "REQ-7KM3QX9A2D"}},
		{"OPEN req-7km3qx9a2d", Command{Verb: VerbOpen, RequestID: "REQ-7KM3QX9A2D"}},
		{"restart payments-api env=prod -- OOM loop, INC-4211", Command{
			Verb: VerbAction, Action: "restart", Positional: []string{"payments-api"},
			Args: map[string]string{"env": "prod"}, Purpose: "OOM loop, INC-4211", HasPurpose: true,
		}},
		{`scale web replicas=3 note="two words" "quoted bare" -- `, Command{
			Verb: VerbAction, Action: "scale", Positional: []string{"web", "quoted bare"},
			Args: map[string]string{"replicas": "3", "note": "two words"}, HasPurpose: true,
		}},
		{`restart api thread=https://chat.example.com/ops/pl/abc — fix it -- really`, Command{
			Verb: VerbAction, Action: "restart", Positional: []string{"api"}, Args: map[string]string{},
			Thread: "https://chat.example.com/ops/pl/abc", Purpose: "fix it -- really", HasPurpose: true,
		}},
		{`restart "a \"b\" c=d"`, Command{Verb: VerbAction, Action: "restart", Positional: []string{`a "b" c=d`}, Args: map[string]string{}}},
		{`restart --force`, Command{Verb: VerbAction, Action: "restart", Positional: []string{"--force"}, Args: map[string]string{}}},
		{"window open db-maint 2h -- schema migration", Command{Verb: VerbWindowOpen, Window: "db-maint", Duration: "2h", Purpose: "schema migration", HasPurpose: true}},
		{"window close DB-maint", Command{Verb: VerbWindowClose, Window: "db-maint"}},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			got, err := Parse(tc.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		text, field string
	}{
		{"help me", "help"},
		{"status", "status"},
		{"status REQ-1 REQ-2", "status"},
		{"cancel not-an-id!", "cancel"},
		{"open REQ-7KM3QX9A2D -- why", "open"},
		{"-- only a purpose", "action"},
		{`"restart" api`, "action"},
		{"Restart! api", "action"},
		{`restart "api`, "text"},
		{"restart env=prod env=staging", "params.env"},
		{"restart Env-X=1", "params"},
		{"restart thread= api", "thread"},
		{"restart thread=a thread=b", "thread"},
		{"window", "window"},
		{"window peek x", "window"},
		{"window open db 2h", "purpose"},
		{"window open db 2h --", "purpose"},
		{"window open db soon -- x", "window.duration"},
		{"window open db -5m -- x", "window.duration"},
		{"window open db 900h -- x", "window.duration"},
		{"window open DB/x 1h -- x", "window.name"},
		{"window close", "window"},
		{"window close a b", "window"},
		{strings.Repeat("x ", MaxArgs+1), "text"},
		{strings.Repeat("x", MaxTextBytes+1), "text"},
		{"restart \xff", "text"},
	}
	for _, tc := range cases {
		t.Run(tc.text[:min(len(tc.text), 40)], func(t *testing.T) {
			_, err := Parse(tc.text)
			var ve *models.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse(%q) = %v, want a validation error", tc.text, err)
			}
			if ve.Field != tc.field {
				t.Fatalf("field = %q (%v), want %q", ve.Field, err, tc.field)
			}
		})
	}
}

func restartAction(t *testing.T) *policy.Action {
	t.Helper()
	a := &policy.Action{Name: "restart", PurposeRequired: true, Params: []policy.Param{
		{Name: "service", Required: true, Pattern: `[a-z0-9-]+`},
		{Name: "env", Required: true, Allowed: []string{"prod", "staging"}},
		{Name: "grace", Type: policy.ParamDuration},
	}}
	if err := a.Compile(); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParams(t *testing.T) {
	a := restartAction(t)
	cases := []struct {
		text    string
		want    map[string]any
		errWant string
	}{
		{"restart payments-api env=prod", map[string]any{"service": "payments-api", "env": "prod"}, ""},
		{"restart payments-api prod grace=30s", map[string]any{"service": "payments-api", "env": "prod", "grace": "30s"}, ""},
		{"restart env=staging service=web", map[string]any{"service": "web", "env": "staging"}, ""},
		{"restart payments-api prod extra", nil, "params"},
		{"restart payments-api service=web", nil, "params.service"},
		{"restart payments-api env=dev", nil, "params.env"},
		{"restart payments-api", nil, "params.env"},
		{"restart Pay_API env=prod", nil, "params.service"},
		{"restart web env=prod color=red", nil, "params.color"},
		{"restart web env=prod grace=soon", nil, "params.grace"},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			c, err := Parse(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Params(a)
			if tc.errWant != "" {
				var ve *models.ValidationError
				if !errors.As(err, &ve) || ve.Field != tc.errWant {
					t.Fatalf("Params = %v, want error on %s", err, tc.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
