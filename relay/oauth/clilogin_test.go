package oauth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

// TestReadCLILogin: each CLI's credential file is read into a Token; a
// missing, malformed or empty file is an error that names the file and
// quotes none of its bytes; a login without a CLI to take over says so.
func TestReadCLILogin(t *testing.T) {
	const claudePath, codexPath = ".claude/.credentials.json", ".codex/auth.json"
	idToken := unsignedJWT(t, map[string]any{"email": "me@example.com",
		"https://api.openai.com/auth": map[string]any{"chatgpt_account_id": "acc-9", "chatgpt_plan_type": "plus"}})
	tests := []struct {
		name     string
		p        Provider
		path     string // under home; "" writes nothing
		file     string
		want     Token
		wantErr  string
		sentinel error
	}{
		{"claude", Claude(), claudePath, `{"claudeAiOauth":{"accessToken":"at-secret","refreshToken":"rt-secret","expiresAt":1893456000000,"subscriptionType":"max"}}`,
			Token{AccessToken: "at-secret", RefreshToken: "rt-secret", PlanType: "max"}, "", nil},
		{"codex", Codex(), codexPath, `{"tokens":{"id_token":"` + idToken + `","access_token":"at-secret","refresh_token":"rt-secret"}}`,
			Token{AccessToken: "at-secret", RefreshToken: "rt-secret", AccountID: "acc-9", Email: "me@example.com", PlanType: "plus"}, "", nil},
		{"codex account id from the file first", Codex(), codexPath, `{"tokens":{"id_token":"` + idToken + `","refresh_token":"rt-secret","account_id":"acc-file"}}`,
			Token{RefreshToken: "rt-secret", AccountID: "acc-file", Email: "me@example.com", PlanType: "plus"}, "", nil},
		{"no file", Claude(), "", "", Token{}, claudePath, os.ErrNotExist},
		{"malformed", Codex(), codexPath, `{"tokens": "rt-secret`, Token{}, codexPath + ": not the expected JSON", nil},
		{"no tokens", Claude(), claudePath, `{"claudeAiOauth":{}}`, Token{}, "holds no tokens", nil},
		{"gemini has none", Gemini(), "", "", Token{}, "gemini", ErrNoCLILogin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := dirtest.New(t)
			if tt.path != "" {
				path := filepath.Join(home, filepath.FromSlash(tt.path))
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := tt.p.ReadCLILogin(home)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), tt.wantErr) {
					t.Fatalf("ReadCLILogin = %v, want an error saying %q", err, tt.wantErr)
				}
				if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
					t.Errorf("ReadCLILogin = %v, want it to match %v", err, tt.sentinel)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("ReadCLILogin = %v: the error quotes the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadCLILogin: %v", err)
			}
			got.Expiry = got.Expiry.UTC()
			if tt.name == "claude" {
				if got.Expiry.Unix() != 1893456000 {
					t.Errorf("Expiry = %v, want 1893456000 (from expiresAt in ms)", got.Expiry)
				}
				got.Expiry = tt.want.Expiry
			}
			if *got != tt.want {
				t.Errorf("ReadCLILogin = %v, want %v", *got, tt.want)
			}
		})
	}
}
