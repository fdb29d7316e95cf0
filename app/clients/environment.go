package clients

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Override is a variable in the user's environment that changes what a CLI
// does with what Connect wrote, or what it will do once disconnected.
type Override struct {
	Var string
	// Where says where it is set: "~/.bashrc:12", or "this shell's
	// environment" when no startup file was found that sets it.
	Where string
	// Meaning says what it does, in words.
	Meaning string
}

// String is the override for people: "GEMINI_API_KEY (~/.bashrc:12): …".
func (o Override) String() string { return o.Var + " (" + o.Where + "): " + o.Meaning }

// What each variable does to each CLI, as checked with Claude Code 2.1.337,
// codex-cli 0.171.0 and Gemini CLI 0.61.0 against local fakes (2026-12-07):
//
//   - Claude Code applies the env block of its settings files over the
//     shell's, so an exported ANTHROPIC_BASE_URL or ANTHROPIC_AUTH_TOKEN
//     does not undo Connect; an exported ANTHROPIC_API_KEY is sent beside
//     Keypool's key (as x-api-key), and is what it uses once disconnected.
//   - Codex ignores OPENAI_BASE_URL altogether and OPENAI_API_KEY while
//     openai_base_url is set; `codex exec` sends an exported CODEX_API_KEY
//     in place of the key in auth.json.
//   - Gemini CLI takes an exported GOOGLE_GEMINI_BASE_URL or GEMINI_API_KEY
//     over any .env file, Connect's included.
var overrides = map[Client][]struct{ name, meaning string }{
	ClaudeCode: {
		{"ANTHROPIC_API_KEY", "Claude Code sends this key beside Keypool's (Keypool never passes it on); once you disconnect, Claude Code bills this key directly, per token, instead of going through Keypool or your subscription login"},
		{"ANTHROPIC_BASE_URL", "no effect while connected (Claude Code's settings.json wins); once you disconnect, Claude Code goes to this address"},
		{"ANTHROPIC_AUTH_TOKEN", "no effect while connected (Claude Code's settings.json wins); once you disconnect, Claude Code sends this token"},
	},
	Codex: {
		{"CODEX_API_KEY", "codex exec sends this key instead of Keypool's, which a relay with client keys refuses; with Codex's built-in provider it bills this key directly"},
		{"OPENAI_BASE_URL", "no effect: Codex ignores it and follows openai_base_url in ~/.codex/config.toml"},
		{"OPENAI_API_KEY", "no effect on Codex while connected; other OpenAI tools you run bill this key directly"},
	},
	GeminiCLI: {
		{"GOOGLE_GEMINI_BASE_URL", "Gemini CLI goes to this address instead of Keypool: an exported variable wins over Keypool's ~/.gemini/.env"},
		{"GEMINI_API_KEY", "Gemini CLI sends this key instead of Keypool's (an exported variable wins over ~/.gemini/.env): a Google key is billed directly, and a relay with client keys refuses any other"},
	},
}

// startupFiles are the shells' files that export variables, relative to
// home, in the order they are reported.
var startupFiles = []string{".profile", ".bash_profile", ".bash_login", ".bashrc", ".zshenv", ".zprofile", ".zshrc",
	".config/fish/config.fish", ".pam_environment"}

// EnvOverrides lists the variables that change what CLI c does with
// Keypool: set in environ (a process environment, "KEY=value" entries) or
// in a startup file under home. Values are never read out, only where
// they are set.
func EnvOverrides(home string, c Client, environ []string) []Override {
	var out []Override
	for _, v := range overrides[c] {
		where := setIn(home, v.name)
		if where == "" && hasVar(environ, v.name) {
			where = "this shell's environment"
		}
		if where != "" {
			out = append(out, Override{Var: v.name, Where: where, Meaning: v.meaning})
		}
	}
	return out
}

func hasVar(environ []string, name string) bool {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return true
		}
	}
	return false
}

// setIn is the first startup file and line that sets name, "~/.bashrc:12",
// or "".
func setIn(home, name string) string {
	// export NAME=…, NAME=… (export later, or a .profile's plain
	// assignment), fish's set -x/-gx/-Ux NAME …, and pam's NAME DEFAULT=….
	re := regexp.MustCompile(`^\s*(?:export\s+|declare\s+-x\s+|typeset\s+-x\s+)?` + name + `=|^\s*set\s+(?:-[a-zA-Z]*x[a-zA-Z]*\s+)+` + name + `\s|^\s*` + name + `\s+(?:DEFAULT|OVERRIDE)=`)
	for _, rel := range startupFiles {
		b, err := os.ReadFile(filepath.Join(home, rel))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			if re.MatchString(sc.Text()) {
				return fmt.Sprintf("~/%s:%d", filepath.ToSlash(rel), n)
			}
		}
	}
	return ""
}
