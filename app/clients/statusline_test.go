package clients

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"keypool/internal/dirtest"
)

const statusCommand = "'/opt/key pool/keypool' statusline"

// settings reads Claude Code's settings.json as JSON.
func settings(t *testing.T, home string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(read(t, filepath.Join(home, ".claude/settings.json"))), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Connect with the status line sets statusLine beside the env block,
// keeping the rest, and Disconnect puts back exactly what was there: the
// user's own status line, or none.
func TestConnectStatusLine(t *testing.T) {
	const own = "{\n  \"model\": \"opus\",\n  \"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/mine.sh\"}\n}\n"
	tests := []struct {
		name     string
		original string // "": no settings.json
		edited   bool   // the user changes the file while connected
		plain    bool   // connected without the status line first
		// editedBetween: the user changes the file after the plain connect,
		// before the one with the status line.
		editedBetween bool
	}{
		{name: "no settings"},
		{name: "their own status line", original: own},
		{name: "their own status line, edited since", original: own, edited: true},
		{name: "connected before without it, edited since", original: "{\"model\": \"opus\"}\n", plain: true, edited: true},
		{name: "connected before without it, edited between the connects", original: "{\"model\": \"opus\"}\n", plain: true, editedBetween: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := dirtest.New(t)
			path := filepath.Join(home, ".claude/settings.json")
			if tt.original != "" {
				write(t, path, tt.original, 0o644)
			}
			if tt.plain {
				if err := Connect(home, ClaudeCode, base, key); err != nil {
					t.Fatal(err)
				}
			}
			if tt.editedBetween {
				s := settings(t, home)
				s["theme"] = "dark"
				b, _ := json.MarshalIndent(s, "", "  ")
				write(t, path, string(b), 0o600)
			}
			if err := ConnectClaudeStatusLine(home, base, key, statusCommand); err != nil {
				t.Fatal(err)
			}
			s := settings(t, home)
			sl, _ := s["statusLine"].(map[string]any)
			if sl["type"] != "command" || sl["command"] != statusCommand {
				t.Errorf("statusLine = %v, want the command %q", s["statusLine"], statusCommand)
			}
			if env, _ := s["env"].(map[string]any); env["ANTHROPIC_BASE_URL"] != base {
				t.Errorf("env = %v, want the relay's base URL", s["env"])
			}
			if tt.original != "" && s["model"] != "opus" {
				t.Errorf("model = %v, want opus kept", s["model"])
			}
			if tt.edited {
				s["theme"] = "dark"
				b, _ := json.MarshalIndent(s, "", "  ")
				write(t, path, string(b), 0o600)
			}
			if err := Disconnect(home, ClaudeCode); err != nil {
				t.Fatal(err)
			}
			if !tt.edited && !tt.editedBetween {
				if tt.original == "" {
					if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("settings.json left behind (%v)", err)
					}
					return
				}
				if got := read(t, path); got != tt.original {
					t.Errorf("after disconnect:\n%s\nwant the original:\n%s", got, tt.original)
				}
				return
			}
			s = settings(t, home)
			if s["theme"] != "dark" {
				t.Errorf("the user's edit was lost: %v", s)
			}
			if _, ok := s["env"].(map[string]any)["ANTHROPIC_AUTH_TOKEN"]; ok {
				t.Errorf("the key stayed: %v", s)
			}
			var want any
			if tt.original == own {
				want = "~/bin/mine.sh"
			}
			got, _ := s["statusLine"].(map[string]any)
			switch {
			case want == nil && s["statusLine"] != nil:
				t.Errorf("statusLine = %v, want none as before", s["statusLine"])
			case want != nil && got["command"] != want:
				t.Errorf("statusLine = %v, want theirs back", s["statusLine"])
			}
		})
	}
}
