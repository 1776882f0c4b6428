package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ExecutorConfig is one executor: where Countersign posts approved
// requests' grants, and the credential the executor redeems them with.
type ExecutorConfig struct {
	// URL receives POST {request_id, action, params, grant}.
	URL string `yaml:"url"`
	// Token is the executor's bearer credential at the redeem API. Prefer
	// TokenEnv, which names an environment variable holding it. Only its
	// SHA-256 is kept once the portal runs.
	Token    string `yaml:"token"`
	TokenEnv string `yaml:"token_env"`
	// Timeout bounds one attempt (default 30s).
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts bounds the attempts (default 5).
	MaxAttempts int `yaml:"max_attempts"`
}

// ExecutorsConfig maps executor names (as the action catalogue names
// them) to their configuration.
type ExecutorsConfig map[string]ExecutorConfig

// UnmarshalYAML decodes the mapping (it exists so that UnmarshalText below
// does not capture YAML decoding).
func (e *ExecutorsConfig) UnmarshalYAML(unmarshal func(any) error) error {
	m := map[string]ExecutorConfig{}
	if err := unmarshal(&m); err != nil {
		return err
	}
	*e = m
	return nil
}

// UnmarshalText refuses COUNTERSIGN_EXECUTORS: executors are a mapping,
// set in the file; their tokens come from the variables token_env names.
func (e *ExecutorsConfig) UnmarshalText([]byte) error {
	return errors.New("set executors in the configuration file; give tokens with token_env")
}

var executorName = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// resolveTokens fills Token from TokenEnv.
func (e ExecutorsConfig) resolveTokens(env []string) error {
	for name, x := range e {
		if x.TokenEnv == "" {
			continue
		}
		if x.Token != "" {
			return configErrorf("config: executors.%s: give token or token_env, not both", name)
		}
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && k == x.TokenEnv {
				x.Token = v
			}
		}
		if x.Token == "" {
			return configErrorf("config: executors.%s: environment variable %s (token_env) is not set", name, x.TokenEnv)
		}
		e[name] = x
	}
	return nil
}

// validate checks every executor, in name order.
func (e ExecutorsConfig) validate() error {
	names := make([]string, 0, len(e))
	for n := range e {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		x := e[name]
		if !executorName.MatchString(name) {
			return configErrorf("config: executors: %q is not a valid executor name (lower-case letters, digits, '.', '_', '-')", name)
		}
		u, err := url.Parse(x.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return configErrorf("config: executors.%s.url: %q must be an absolute http(s) URL", name, x.URL)
		}
		if len(x.Token) < 16 {
			return configErrorf("config: executors.%s: token (or token_env) must hold at least 16 characters", name)
		}
		if t := x.Timeout.D(); t < 0 || t > 10*time.Minute {
			return configErrorf("config: executors.%s.timeout must be between 0 (default 30s) and 10m", name)
		}
		if x.MaxAttempts < 0 || x.MaxAttempts > 20 {
			return configErrorf("config: executors.%s.max_attempts must be between 0 (default 5) and 20", name)
		}
	}
	return nil
}

// tokens returns each executor's token, for hashing.
func (e ExecutorsConfig) tokens() map[string]string {
	out := make(map[string]string, len(e))
	for n, x := range e {
		out[n] = x.Token
	}
	return out
}

// String never shows tokens.
func (x ExecutorConfig) String() string {
	return fmt.Sprintf("{url: %s, timeout: %s, max_attempts: %d}", x.URL, x.Timeout.D(), x.MaxAttempts)
}
