// Package clients points the coding CLIs at Keypool: the environment
// variables each one reads, spelled for each shell.
package clients

import (
	"fmt"
	"sort"
	"strings"
)

// Client is a CLI Keypool can serve.
type Client string

const (
	ClaudeCode Client = "claude"
	Codex      Client = "codex"
	GeminiCLI  Client = "gemini"
)

// Clients lists them in display order.
var Clients = []Client{ClaudeCode, Codex, GeminiCLI}

// ParseClient reads a client name as users type it.
func ParseClient(s string) (Client, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "claude", "claude-code", "claudecode":
		return ClaudeCode, nil
	case "codex", "codex-cli":
		return Codex, nil
	case "gemini", "gemini-cli":
		return GeminiCLI, nil
	}
	return "", fmt.Errorf("unknown client %q: use claude, codex or gemini", s)
}

// CodexKeyVar is the variable a hand-written Codex provider may name as its
// env_key, for those who export the key (keypool env codex) rather than let
// Connect write it into config.toml: OPENAI_BASE_URL alone is deprecated in
// Codex.
const CodexKeyVar = "KEYPOOL_API_KEY"

// Env is the variables that point client at the relay at base with key.
// Claude Code's ANTHROPIC_API_KEY is left out on purpose: it would override
// the token.
func Env(c Client, base, key string) map[string]string {
	switch c {
	case Codex:
		// Codex takes its base URL from a model provider in config.toml;
		// one whose env_key is CodexKeyVar takes the key from here.
		return map[string]string{CodexKeyVar: key}
	case GeminiCLI:
		return map[string]string{"GOOGLE_GEMINI_BASE_URL": base + "/gemini", "GEMINI_API_KEY": key}
	}
	return map[string]string{"ANTHROPIC_BASE_URL": base, "ANTHROPIC_AUTH_TOKEN": key}
}

// Shells Keypool spells exports for.
var Shells = []string{"bash", "zsh", "fish", "powershell", "cmd"}

// Exports spells vars as shell commands, sorted by name.
func Exports(vars map[string]string, shell string) (string, error) {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		v := vars[k]
		switch shell {
		case "bash", "zsh", "sh", "":
			fmt.Fprintf(&b, "export %s=%s\n", k, shQuote(v))
		case "fish":
			fmt.Fprintf(&b, "set -gx %s %s\n", k, fishQuote(v))
		case "powershell", "pwsh":
			fmt.Fprintf(&b, "$env:%s = '%s'\n", k, strings.ReplaceAll(v, "'", "''"))
		case "cmd":
			if strings.ContainsAny(v, "\"%^&|<>") {
				return "", fmt.Errorf("%s's value cannot be written safely for cmd", k)
			}
			fmt.Fprintf(&b, "set \"%s=%s\"\n", k, v)
		default:
			return "", fmt.Errorf("unknown shell %q: use %s", shell, strings.Join(Shells, ", "))
		}
	}
	return b.String(), nil
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
