package policy

// The policy file's YAML shape. Durations are read as text and parsed while
// building the Policy, so a bad one is reported at its own line.

// fileDoc is the whole policy file.
type fileDoc struct {
	Version int                 `yaml:"version"`
	Roles   map[string]fileRole `yaml:"roles"`
	Windows []fileWindow        `yaml:"windows"`
	Actions []fileAction        `yaml:"actions"`
	Rules   []fileRule          `yaml:"rules"`
}

// fileRole says who holds a policy role.
type fileRole struct {
	Description     string   `yaml:"description"`
	IdPGroups       []string `yaml:"idp_groups"`
	MattermostUsers []string `yaml:"mattermost_users"`
}

// fileWindow declares a change window that may be opened.
type fileWindow struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	MaxDuration string `yaml:"max_duration"`
}

// fileAction is one catalogue entry.
type fileAction struct {
	Name            string      `yaml:"name"`
	Description     string      `yaml:"description"`
	Executor        string      `yaml:"executor"`
	PurposeRequired bool        `yaml:"purpose_required"`
	Requesters      []string    `yaml:"requesters"`
	Params          []fileParam `yaml:"params"`
	// MCPTool names the tool of an upstream MCP server that performs the
	// action ("server/tool" or just "tool"), for the MCP gateway.
	MCPTool string `yaml:"mcp_tool"`
}

// fileParam is one typed action parameter.
type fileParam struct {
	Name        string   `yaml:"name"`
	Type        string   `yaml:"type"`
	Description string   `yaml:"description"`
	Required    bool     `yaml:"required"`
	Allowed     []string `yaml:"allowed"`
	Pattern     string   `yaml:"pattern"`
}

// fileRule is one rule: a condition and exactly one outcome.
type fileRule struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Actions, when set, limits the rule to these actions (checked against
	// the catalogue, and a fast pre-filter at evaluation).
	Actions     []string     `yaml:"actions"`
	When        string       `yaml:"when"`
	Deny        string       `yaml:"deny"`
	AutoApprove *fileAuto    `yaml:"auto_approve"`
	Require     *fileRequire `yaml:"require"`
}

// fileAuto is the auto_approve outcome.
type fileAuto struct {
	// Window, when set, limits the rule to while that window is open.
	Window   string `yaml:"window"`
	GrantTTL string `yaml:"grant_ttl"`
}

// fileRequire is the require outcome.
type fileRequire struct {
	Approvals     int         `yaml:"approvals"`
	Roles         []string    `yaml:"roles"`
	Window        string      `yaml:"window"`
	StepUp        *fileStepUp `yaml:"step_up"`
	GrantTTL      string      `yaml:"grant_ttl"`
	TTL           string      `yaml:"ttl"`
	Remind        []string    `yaml:"remind"`
	EscalateTo    []string    `yaml:"escalate_to"`
	EscalateAfter string      `yaml:"escalate_after"`
}

// fileStepUp tightens the decision's fresh authentication.
type fileStepUp struct {
	MaxAge string   `yaml:"max_age"`
	ACR    []string `yaml:"acr"`
	// Method is "idp" (default: a fresh sign-in at the identity
	// provider) or "passkey" (each decision signed with a passkey).
	Method string `yaml:"method"`
}
