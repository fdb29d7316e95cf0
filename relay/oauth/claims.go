package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// IDTokenClaims are the identity facts read from an id_token.
type IDTokenClaims struct {
	// Email is the email claim, or https://api.openai.com/profile.email.
	Email string
	// ChatGPTAccountID is https://api.openai.com/auth.chatgpt_account_id: the
	// account id Codex sends as a header.
	ChatGPTAccountID string
	// ChatGPTPlanType is chatgpt_plan_type (free, plus, pro, team, …).
	ChatGPTPlanType string
	// ChatGPTUserID is chatgpt_user_id, or user_id.
	ChatGPTUserID string
	// Expiry is the exp claim, zero if absent.
	Expiry time.Time
}

type rawClaims struct {
	Email   string   `json:"email"`
	Exp     *flexInt `json:"exp"`
	Profile struct {
		Email string `json:"email"`
	} `json:"https://api.openai.com/profile"`
	Auth struct {
		AccountID string `json:"chatgpt_account_id"`
		PlanType  string `json:"chatgpt_plan_type"`
		UserID    string `json:"chatgpt_user_id"`
		AltUserID string `json:"user_id"`
	} `json:"https://api.openai.com/auth"`
	AccountID string `json:"chatgpt_account_id"`
}

var errNotJWT = errors.New("id token is not a JWT")

// ParseIDTokenClaims reads the payload of a JWT without verifying its
// signature: it came over TLS straight from the issuer, and only identity
// facts for display and routing are taken from it. Errors never quote the
// token.
func ParseIDTokenClaims(idToken string) (IDTokenClaims, error) {
	rc, err := decodeClaims(idToken)
	if err != nil {
		return IDTokenClaims{}, err
	}
	c := IDTokenClaims{
		Email:            rc.Email,
		ChatGPTAccountID: rc.Auth.AccountID,
		ChatGPTPlanType:  rc.Auth.PlanType,
		ChatGPTUserID:    rc.Auth.UserID,
	}
	if c.Email == "" {
		c.Email = rc.Profile.Email
	}
	if c.ChatGPTAccountID == "" {
		c.ChatGPTAccountID = rc.AccountID
	}
	if c.ChatGPTUserID == "" {
		c.ChatGPTUserID = rc.Auth.AltUserID
	}
	if rc.Exp != nil && *rc.Exp > 0 {
		c.Expiry = time.Unix(int64(*rc.Exp), 0)
	}
	return c, nil
}

func decodeClaims(jwt string) (*rawClaims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errNotJWT
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("id token payload is not base64url")
	}
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return nil, errors.New("id token payload is not a JSON object")
	}
	return &rc, nil
}

// jwtExpiry reads exp from a JWT access token (Codex's are JWTs); ok is false
// for an opaque token.
func jwtExpiry(token string) (time.Time, bool) {
	rc, err := decodeClaims(token)
	if err != nil || rc.Exp == nil || *rc.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(*rc.Exp), 0), true
}
