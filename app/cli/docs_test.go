package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// helpCommands are keypool's commands as --help is asked of them: the
// words before --help (a subcommand's, and a client or id where one is
// required first). "" is keypool with no command, the desktop app.
var helpCommands = []string{
	"", "serve", "service install", "service uninstall", "status",
	"accounts list", "accounts add", "accounts set", "accounts remove", "accounts enable", "accounts disable", "accounts reset",
	"login", "import", "client-keys list", "client-keys add", "client-keys remove",
	"profiles list", "profiles add", "profiles remove",
	"env", "connect", "disconnect", "statusline", "clients", "usage", "autostart", "update",
}

// helpArgs is the command line that asks cmd for its flags.
func helpArgs(cmd string) []string {
	switch cmd {
	case "":
		return []string{"--hidden", "--help"} // --help alone prints the usage
	case "accounts set":
		return []string{"accounts", "set", "an-id", "--help"}
	case "login", "env", "connect", "disconnect":
		return []string{cmd, "claude", "--help"}
	}
	return append(strings.Fields(cmd), "--help")
}

// commandFlags runs keypool CMD --help for every command and reads the
// flags it lists.
func commandFlags(t *testing.T) map[string][]string {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	flagLine := regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)`)
	out := map[string][]string{}
	for _, cmd := range helpCommands {
		var help bytes.Buffer
		Run(context.Background(), helpArgs(cmd), strings.NewReader(""), io.Discard, &help, nil)
		for _, m := range flagLine.FindAllStringSubmatch(help.String(), -1) {
			out[cmd] = append(out[cmd], "--"+m[1])
		}
	}
	return out
}

// docPages are README.md and every page of docs/, by name.
func docPages(t *testing.T) map[string]string {
	t.Helper()
	pages := map[string]string{}
	names, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(names, "../../README.md") {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		pages[strings.TrimPrefix(name, "../../")] = string(b)
	}
	if len(pages) < 2 {
		t.Fatal("no docs/*.md pages found")
	}
	return pages
}

// commandOf is the command a keypool command line in the docs names: the
// longest of helpCommands its words begin with, or "" for keypool alone or
// followed by a flag; ok is false for another word (version, help,
// COMMAND).
func commandOf(line string) (cmd string, ok bool) {
	words := strings.Fields(strings.TrimPrefix(line, "keypool"))
	if len(words) == 0 || strings.HasPrefix(words[0], "-") || strings.HasPrefix(words[0], "[") {
		return "", true
	}
	for _, c := range helpCommands {
		cw := strings.Fields(c)
		if len(cw) > len(words) || len(cw) <= len(strings.Fields(cmd)) {
			continue
		}
		if slices.Equal(cw, words[:len(cw)]) {
			cmd, ok = c, true
		}
	}
	return cmd, ok
}

// TestDocsMatchHelp: every keypool command line in README.md and docs/
// names a command that exists with flags that command takes; and every
// flag a command's --help lists is documented in that command's row of
// docs/commands.md.
func TestDocsMatchHelp(t *testing.T) {
	flags := commandFlags(t)
	pages := docPages(t)
	known := map[string]bool{"help": true, "version": true, "COMMAND": true}
	for _, cmd := range helpCommands {
		if cmd != "" {
			known[strings.Fields(cmd)[0]] = true
		}
	}
	var usage bytes.Buffer
	Run(context.Background(), []string{"--help"}, strings.NewReader(""), &usage, io.Discard, nil)

	// Docs → --help. A command line is "keypool" followed by a command or
	// a flag, up to the end of its code span, table cell or line (not
	// another tool's flags on the same line).
	lines := regexp.MustCompile("keypool( [a-z-]+| -|$)[^`\n|]*")
	flagRe := regexp.MustCompile(`--[a-z][a-z-]*`)
	for name, text := range pages {
		for _, line := range lines.FindAllString(text, -1) {
			words := strings.Fields(line)
			if len(words) > 1 && !strings.HasPrefix(words[1], "-") && !known[words[1]] {
				continue // prose: "keypool serves…", "keypool.db"
			}
			cmd, ok := commandOf(line)
			for _, f := range flagRe.FindAllString(line, -1) {
				if f == "--help" {
					continue
				}
				if !strings.Contains(usage.String(), f) {
					t.Errorf("%s: %q names %s, which keypool --help does not list", name, line, f)
				}
				if ok && !slices.Contains(flags[cmd], f) {
					t.Errorf("%s: %q names %s, which keypool %s --help does not list", name, line, f, cmd)
				}
			}
		}
	}

	// --help → docs/commands.md: each command's row names every flag it
	// takes. A row is a table line whose first cell names the command.
	rows := strings.Split(pages["docs/commands.md"], "\n")
	for _, cmd := range helpCommands {
		var row string
		for _, r := range rows {
			if row != "" || !strings.HasPrefix(r, "| `keypool") {
				continue
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(r, "| "), " |")
			for _, span := range regexp.MustCompile("`keypool[^`]*`").FindAllString(first, -1) {
				if c, ok := commandOf(strings.Trim(span, "`")); ok && c == cmd {
					row = r
				}
			}
		}
		if row == "" {
			t.Errorf("docs/commands.md has no row for keypool %s", cmd)
			continue
		}
		for _, f := range flags[cmd] {
			if !strings.Contains(row, f) {
				t.Errorf("keypool %s --help lists %s; docs/commands.md's row for it does not document it", cmd, f)
			}
		}
	}
}
