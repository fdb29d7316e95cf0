package clients

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestExportsSpelling(t *testing.T) {
	vars := map[string]string{"A": "http://127.0.0.1:3000", "B": "it's"}
	tests := map[string]string{
		"bash":       "export A='http://127.0.0.1:3000'\nexport B='it'\\''s'\n",
		"fish":       "set -gx A 'http://127.0.0.1:3000'\nset -gx B 'it\\'s'\n",
		"powershell": "$env:A = 'http://127.0.0.1:3000'\n$env:B = 'it''s'\n",
	}
	for shell, want := range tests {
		if got, err := Exports(vars, shell); err != nil || got != want {
			t.Errorf("Exports(%s) = %q, %v; want %q, nil", shell, got, err, want)
		}
	}
	if got, err := Exports(map[string]string{"A": "x"}, "cmd"); got != "set \"A=x\"\n" {
		t.Errorf("Exports(cmd) = %q, %v; want %q", got, err, "set \"A=x\"\n")
	}
	if got, err := Exports(map[string]string{"A": "a&b"}, "cmd"); err == nil {
		t.Errorf("Exports(A=a&b, cmd) = %q, nil; want an error (cmd cannot hold the value)", got)
	}
	if got, err := Exports(vars, "tcsh"); err == nil {
		t.Errorf("Exports(tcsh) = %q, nil; want an error (unknown shell)", got)
	}
}

// The exports, run by the real shell, set exactly the values (bash always;
// the others where installed).
func TestExportsParsedByShell(t *testing.T) {
	vars := Env(ClaudeCode, "http://127.0.0.1:3000", `kp-ab'c"d$e`)
	for shell, prog := range map[string][]string{"bash": {"bash", "-c"}, "zsh": {"zsh", "-c"}, "fish": {"fish", "-c"}} {
		if _, err := exec.LookPath(prog[0]); err != nil {
			if shell == "bash" && runtime.GOOS != "windows" {
				t.Fatalf("LookPath(bash): %v, want bash installed", err)
			}
			continue
		}
		script, err := Exports(vars, shell)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(prog[0], prog[1], script+"printf '%s\\n%s' \"$ANTHROPIC_BASE_URL\" \"$ANTHROPIC_AUTH_TOKEN\"").CombinedOutput()
		if err != nil {
			t.Fatalf("%s running the exports: %v %s, want nil", shell, err, out)
		}
		if got := strings.Split(string(out), "\n"); len(got) != 2 || got[0] != vars["ANTHROPIC_BASE_URL"] || got[1] != vars["ANTHROPIC_AUTH_TOKEN"] {
			t.Errorf("%s read back %q, want %q and %q on two lines", shell, out, vars["ANTHROPIC_BASE_URL"], vars["ANTHROPIC_AUTH_TOKEN"])
		}
	}
}

func TestEnvPerClient(t *testing.T) {
	if e := Env(GeminiCLI, "http://h:1", "k"); e["GOOGLE_GEMINI_BASE_URL"] != "http://h:1/gemini" || e["GEMINI_API_KEY"] != "k" {
		t.Errorf("Env(gemini) = %v, want GOOGLE_GEMINI_BASE_URL=http://h:1/gemini, GEMINI_API_KEY=k", e)
	}
	if e := Env(Codex, "http://h:1", "k"); e[CodexKeyVar] != "k" || len(e) != 1 {
		t.Errorf("Env(codex) = %v, want only %s=k", e, CodexKeyVar)
	}
	claude := Env(ClaudeCode, "b", "k")
	if _, ok := claude["ANTHROPIC_API_KEY"]; ok {
		t.Errorf("Env(claude) = %v, want no ANTHROPIC_API_KEY", claude)
	}
	for _, s := range []string{"claude", "Claude-Code", "codex", "gemini-cli"} {
		if _, err := ParseClient(s); err != nil {
			t.Errorf("ParseClient(%q): %v, want nil", s, err)
		}
	}
}
