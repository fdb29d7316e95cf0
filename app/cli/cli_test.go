package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

func TestRunCommands(t *testing.T) {
	dir := dirtest.New(t)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg")) // autostart looks here
	t.Setenv("HOME", filepath.Join(dir, "home"))
	bad := filepath.Join(dir, "config.toml")
	os.WriteFile(bad, []byte("api_keys = [\"k\"]\n[server]\nport = 3000\n\n[[accounts]]\ntype = \"claude-api\"\nid = \"main\"\napi_key = \"sk-ant-SECRET\"\nauth_header = \"basic\"\n"), 0o600)
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("api_keys = [\"client-k1\"]\n[server]\nport = 3456\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr string
		wantOut string
	}{
		{"help", []string{"--help"}, "", "keypool status"},
		{"version", []string{"version"}, "", "keypool 0.0.0-dev"},
		{"unknown_command", []string{"frobnicate"}, "unknown command", ""},
		{"bad_config_names_file_line_key", []string{"serve", "--config", bad}, bad + ":9: accounts[0].auth_header", ""},
		{"missing_config", []string{"serve", "--config", filepath.Join(dir, "nope.toml")}, "nope.toml", ""},
		{"status_no_data", []string{"status", "--data-dir", filepath.Join(dir, "empty")}, "", "not running"},
		{"env_claude_from_config", []string{"env", "claude", "--config", good}, "", "export ANTHROPIC_AUTH_TOKEN='client-k1'"},
		{"env_gemini_fish", []string{"env", "gemini", "--shell", "fish", "--config", good}, "", "set -gx GOOGLE_GEMINI_BASE_URL 'http://127.0.0.1:3456/gemini'"},
		{"env_codex_provider", []string{"env", "codex", "--config", good}, "", `base_url = "http://127.0.0.1:3456/openai/v1"`},
		{"autostart_status", []string{"autostart", "status"}, "", "Start at login: off."},
		{"clients_none", []string{"clients"}, "", "claude  not connected"},
		{"connect_claude", []string{"connect", "claude", "--config", good}, "", "claude now uses Keypool at http://127.0.0.1:3456"},
		{"clients_claude", []string{"clients"}, "", "claude  connected"},
		{"disconnect_claude", []string{"disconnect", "claude"}, "", "as it was"},
		{"autostart_bad", []string{"autostart", "maybe"}, "on|off|status", ""},
		{"env_unknown_client", []string{"env", "cursor", "--config", good}, "unknown client", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("err = %v, want no secret in it", err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
	if code := ExitCode(errors.Join(errUsage)); code != 2 {
		t.Errorf("ExitCode(a usage error) = %d, want 2", code)
	}
}
