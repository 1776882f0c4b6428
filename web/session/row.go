package session

import (
	"encoding/json"
	"fmt"
	"time"
)

// row is the sessions table (migration 0002).
type row struct {
	IDHash            string    `gorm:"column:id_hash;primaryKey"`
	CSRFToken         string    `gorm:"column:csrf_token"`
	UserData          string    `gorm:"column:user_data"`
	Subject           string    `gorm:"column:subject"`
	IDToken           string    `gorm:"column:id_token"`
	LoginPending      string    `gorm:"column:login_pending"`
	DecisionPending   string    `gorm:"column:decision_pending"`
	CreatedAt         time.Time `gorm:"column:created_at"`
	LastSeenAt        time.Time `gorm:"column:last_seen_at"`
	ExpiresAt         time.Time `gorm:"column:expires_at"`
	AbsoluteExpiresAt time.Time `gorm:"column:absolute_expires_at"`
}

// TableName pins the table name.
func (row) TableName() string { return "sessions" }

// userRecord is the stored form of a User. It is separate from User so the
// JSON in the database has stable names whatever User's fields are called.
type userRecord struct {
	Subject     string    `json:"sub"`
	Issuer      string    `json:"iss"`
	Username    string    `json:"username"`
	Name        string    `json:"name,omitempty"`
	Email       string    `json:"email,omitempty"`
	Roles       []string  `json:"roles,omitempty"`
	AuthTime    time.Time `json:"auth_time"`
	ACR         string    `json:"acr,omitempty"`
	AMR         []string  `json:"amr,omitempty"`
	IDTokenHash string    `json:"id_token_hash,omitempty"`
	// MissingRolesClaim: see User.
	MissingRolesClaim string `json:"missing_roles_claim,omitempty"`
}

func encodeUser(u *User) (string, error) {
	if u == nil {
		return "", nil
	}
	b, err := json.Marshal(userRecord{
		Subject: u.Subject, Issuer: u.Issuer, Username: u.Username, Name: u.Name, Email: u.Email,
		Roles: u.Roles, AuthTime: u.AuthTime.UTC(), ACR: u.ACR, AMR: u.AMR, IDTokenHash: u.IDTokenHash,
		MissingRolesClaim: u.MissingRolesClaim,
	})
	if err != nil {
		return "", fmt.Errorf("session: encode user: %w", err)
	}
	return string(b), nil
}

func decodeUser(s string) (*User, error) {
	if s == "" {
		return nil, nil
	}
	var r userRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("session: decode user: %w", err)
	}
	return &User{
		Subject: r.Subject, Issuer: r.Issuer, Username: r.Username, Name: r.Name, Email: r.Email,
		Roles: r.Roles, AuthTime: r.AuthTime, ACR: r.ACR, AMR: r.AMR, IDTokenHash: r.IDTokenHash,
		MissingRolesClaim: r.MissingRolesClaim,
	}, nil
}

// toSession builds the in-memory session for the raw id that loaded r.
func (r *row) toSession(id string) (*Session, error) {
	u, err := decodeUser(r.UserData)
	if err != nil {
		return nil, err
	}
	return &Session{
		id: id, idHash: r.IDHash, CSRFToken: r.CSRFToken, User: u, IDToken: r.IDToken,
		CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt, AbsoluteExpiresAt: r.AbsoluteExpiresAt,
	}, nil
}
