package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrNoCLILogin is returned by [Provider.ReadCLILogin] for a provider
// whose CLI keeps no login Keypool can take over.
var ErrNoCLILogin = errors.New("no CLI login to take over")

// ReadCLILogin reads the login the provider's own CLI keeps under home
// (the user's home directory), so Keypool can take it over. The file's
// path is in every error; its bytes never are.
func (p Provider) ReadCLILogin(home string) (*Token, error) {
	if p.CLILogin == nil {
		return nil, fmt.Errorf("%s: %w", p.Name, ErrNoCLILogin)
	}
	t, err := p.CLILogin(home)
	if err != nil {
		return nil, err
	}
	if t.AccessToken == "" && t.RefreshToken == "" {
		return nil, fmt.Errorf("%s: the CLI's credential file holds no tokens", p.Name)
	}
	return t, nil
}

// claudeCodeLogin reads Claude Code's ~/.claude/.credentials.json.
func claudeCodeLogin(home string) (*Token, error) {
	var f struct {
		ClaudeAiOauth struct {
			AccessToken      string `json:"accessToken"`
			RefreshToken     string `json:"refreshToken"`
			ExpiresAt        int64  `json:"expiresAt"` // ms
			SubscriptionType string `json:"subscriptionType"`
		} `json:"claudeAiOauth"`
	}
	if err := readJSON(filepath.Join(home, ".claude", ".credentials.json"), &f); err != nil {
		return nil, err
	}
	c := f.ClaudeAiOauth
	t := &Token{AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, PlanType: c.SubscriptionType}
	if c.ExpiresAt > 0 {
		t.Expiry = time.UnixMilli(c.ExpiresAt)
	}
	return t, nil
}

// codexCLILogin reads the Codex CLI's ~/.codex/auth.json; its identity
// comes from the id_token's claims.
func codexCLILogin(home string) (*Token, error) {
	var f struct {
		Tokens struct {
			IDToken      string `json:"id_token"`
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			AccountID    string `json:"account_id"`
		} `json:"tokens"`
	}
	if err := readJSON(filepath.Join(home, ".codex", "auth.json"), &f); err != nil {
		return nil, err
	}
	t := &Token{AccessToken: f.Tokens.AccessToken, RefreshToken: f.Tokens.RefreshToken, AccountID: f.Tokens.AccountID}
	if c, err := ParseIDTokenClaims(f.Tokens.IDToken); err == nil {
		t.Email, t.PlanType = c.Email, c.ChatGPTPlanType
		if t.AccountID == "" {
			t.AccountID = c.ChatGPTAccountID
		}
	}
	return t, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		// The JSON error may quote the file's bytes: say only where.
		return fmt.Errorf("read %s: not the expected JSON", path)
	}
	return nil
}
