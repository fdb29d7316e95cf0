package clients

import (
	"path/filepath"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

// Every variable that changes what a connected CLI does is found, in the
// startup file and line that sets it (each shell's way of exporting), or in
// the environment; its value is never shown.
func TestEnvOverrides(t *testing.T) {
	home := dirtest.New(t)
	write(t, filepath.Join(home, ".bashrc"), "# mine\nalias ll='ls -l'\nexport ANTHROPIC_API_KEY=sk-ant-users-own-secret\n", 0o644)
	write(t, filepath.Join(home, ".zshrc"), "export PATH=$PATH:~/bin\nGEMINI_API_KEY=AIza-users-own-secret\nexport GEMINI_API_KEY\n", 0o644)
	write(t, filepath.Join(home, ".config/fish/config.fish"), "set -gx GOOGLE_GEMINI_BASE_URL https://example.test\n", 0o644)
	write(t, filepath.Join(home, ".profile"), "# OPENAI_BASE_URL=commented out\n", 0o644)
	environ := []string{"HOME=" + home, "CODEX_API_KEY=sk-codex-secret", "OPENAI_API_KEY=", "ANTHROPIC_BASE_URL=http://elsewhere"}

	want := map[Client][]string{
		ClaudeCode: {"ANTHROPIC_API_KEY (~/.bashrc:3): Claude Code sends this key beside Keypool's", "ANTHROPIC_BASE_URL (this shell's environment): no effect while connected"},
		Codex:      {"CODEX_API_KEY (this shell's environment): codex exec sends this key instead of Keypool's"},
		GeminiCLI:  {"GOOGLE_GEMINI_BASE_URL (~/.config/fish/config.fish:1): Gemini CLI goes to this address instead of Keypool", "GEMINI_API_KEY (~/.zshrc:2): Gemini CLI sends this key instead of Keypool's"},
	}
	for c, lines := range want {
		got := EnvOverrides(home, c, environ)
		if len(got) != len(lines) {
			t.Errorf("%s: %d overrides %q, want %d", c, len(got), got, len(lines))
			continue
		}
		for i, l := range lines {
			if s := got[i].String(); !strings.HasPrefix(s, l) || strings.Contains(s, "secret") {
				t.Errorf("%s: %q, want it to start %q and show no value", c, s, l)
			}
		}
	}
	if got := EnvOverrides(dirtest.New(t), ClaudeCode, nil); len(got) != 0 {
		t.Errorf("a clean home and environment: %q, want none", got)
	}
}
