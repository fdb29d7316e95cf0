package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

// keypool connect claude --statusline sets Claude Code's statusLine to a
// command that runs: this binary's statusline for the same data dir.
// Disconnect takes it away with the rest; --statusline is refused for a CLI
// without a status line.
func TestConnectStatusLineCmd(t *testing.T) {
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "keys.toml")
	os.WriteFile(cfg, []byte("api_keys = [\"kp-cmd-test-key\"]\n[server]\nport = 3459\n"), 0o600)
	home := dirtest.New(t)
	t.Setenv("HOME", home)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"connect", "claude", "--statusline", "--config", cfg}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("connect: %v\n%s", err, out.String())
	}
	var s struct {
		StatusLine struct{ Type, Command string } `json:"statusLine"`
		Env        map[string]string
	}
	mustJSON(t, filepath.Join(home, ".claude", "settings.json"), &s)
	if s.StatusLine.Type != "command" || !strings.Contains(s.StatusLine.Command, " statusline --config "+cfg) || s.Env["ANTHROPIC_AUTH_TOKEN"] != "kp-cmd-test-key" {
		t.Fatalf("settings.json: statusLine %+v env %v", s.StatusLine, s.Env)
	}
	// The command is one a shell runs: an absolute program that exists
	// (here the test binary stands in for keypool), plain words.
	if strings.HasPrefix(s.StatusLine.Command, "'") || strings.Contains(s.StatusLine.Command, "\n") {
		t.Errorf("command %q needs quoting it should not", s.StatusLine.Command)
	}
	exe := strings.Fields(s.StatusLine.Command)[0]
	if _, err := exec.LookPath(exe); err != nil {
		t.Errorf("the command's program %q does not exist: %v", exe, err)
	}

	out.Reset()
	err := run(context.Background(), []string{"connect", "codex", "--statusline", "--config", cfg}, strings.NewReader(""), &out, &out)
	if !errors.Is(err, errUsage) {
		t.Errorf("connect codex --statusline: %v, want a usage error", err)
	}
	if err := run(context.Background(), []string{"disconnect", "claude"}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".claude", "settings.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("settings.json after disconnect: %v, want gone as before", err)
	}
}

// With no relay running the status line says so, on one line, and exits 0
// (Claude Code shows nothing for a failed command).
func TestStatusLineCmdWithoutRelay(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader(`{"session_id":"0b1c","model":{"display_name":"Opus"}}`)
	if err := run(context.Background(), []string{"statusline", "--data-dir", dirtest.New(t)}, in, &out, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "Keypool: not running\n" {
		t.Errorf("statusline = %q", out.String())
	}
}
