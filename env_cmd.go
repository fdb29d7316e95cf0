package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"keypool/app"
)

// envCmd prints the exports that point a CLI at the relay.
func envCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("env", &p, stderr)
	shell := fs.String("shell", "bash", "bash, zsh, fish, powershell or cmd")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool env claude|codex|gemini [--shell bash|zsh|fish|powershell|cmd]", errUsage)
	}
	c, err := app.ParseClient(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	acc, err := app.Access(p, osKeychain())
	if err != nil {
		return err
	}
	out, err := app.ClientExports(c, acc, *shell)
	if err != nil {
		return err
	}
	if c == app.Codex {
		// Codex reads its base URL from a provider in ~/.codex/config.toml.
		fmt.Fprintf(stdout, "%s model_provider = \"keypool\" with [model_providers.keypool] base_url = \"%s/openai/v1\", env_key = \"%s\", wire_api = \"responses\" in ~/.codex/config.toml\n",
			commentMark(*shell), acc.Base, app.CodexKeyVar)
	}
	fmt.Fprint(stdout, out)
	return nil
}

func commentMark(shell string) string {
	if shell == "cmd" {
		return "REM"
	}
	return "#"
}

// autostartCmd turns starting at login on or off, or says whether it is.
func autostartCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: keypool autostart on|off|status", errUsage)
	}
	switch args[0] {
	case "on", "off":
		if err := app.SetStartAtLogin(args[0] == "on"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Start at login: %s.\n", args[0])
		return nil
	case "status":
		on, err := app.StartAtLogin()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Start at login: %v.\n", map[bool]string{true: "on", false: "off"}[on])
		return nil
	}
	return fmt.Errorf("%w: keypool autostart on|off|status", errUsage)
}

// connectCmd writes (or undoes) a CLI's own config to use the relay.
func connectCmd(args []string, on bool, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("connect", &p, stderr)
	statusLine := fs.Bool("statusline", false, "Claude Code: also show this session's account and the pool's runway in its status line")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool connect|disconnect claude|codex|gemini", errUsage)
	}
	c, err := app.ParseClient(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !on {
		if err := app.DisconnectClient(c); err != nil {
			return fmt.Errorf("disconnect %s: %w", c, err)
		}
		fmt.Fprintf(stdout, "%s no longer uses Keypool; its config is as it was.\n", c)
		return nil
	}
	acc, err := app.Access(p, osKeychain())
	if err != nil {
		return err
	}
	if *statusLine {
		if c != app.ClaudeCode {
			return fmt.Errorf("%w: --statusline is for claude: only Claude Code runs a status line", errUsage)
		}
		if acc.StatusLine, err = app.StatusLineCommand(p); err != nil {
			return err
		}
	}
	if err := app.ConnectClientTo(c, acc); err != nil {
		return fmt.Errorf("connect %s: %w", c, err)
	}
	// The key is in the CLI's own files now: a new terminal needs nothing
	// exported.
	fmt.Fprintf(stdout, "%s now uses Keypool at %s; the key is in its own config, so nothing needs exporting (a backup of that config was kept).\n", c, acc.Base)
	if acc.StatusLine != "" {
		fmt.Fprintln(stdout, "Its status line shows the account serving each session and the pool's runway.")
	}
	if c == app.GeminiCLI {
		// Gemini CLI ignores ~/.gemini/.env in a folder not trusted yet.
		fmt.Fprintln(stdout, "Gemini CLI reads it in folders you trust: it asks the first time it starts in a folder.")
	}
	return nil
}

// clientsCmd says which CLIs are connected.
func clientsCmd(stdout io.Writer) error {
	for _, c := range app.Clients {
		on, err := app.ClientConnected(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-7s %s\n", c, map[bool]string{true: "connected", false: "not connected"}[on])
	}
	return nil
}

// usageCmd exports usage records.
func usageCmd(args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("usage", &p, stderr)
	since := fs.String("since", "24h", "records since a time: today, yesterday, a duration back (24h, 90m, 7d, 2w) or a date (2026-11-01)")
	format := fs.String("format", "csv", "csv or json")
	by := fs.String("by", "", "totals per day and account, model or client instead of the records")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	from, err := parseSince(*since, time.Now())
	if err != nil {
		return fmt.Errorf("%w: --since %q: %v", errUsage, *since, err)
	}
	recs, err := app.UsageRecords(p, from)
	if err != nil {
		return err
	}
	if *by != "" {
		rows, err := app.Summarize(recs, *by)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return app.WriteSummary(stdout, rows, *by, *format)
	}
	return app.WriteUsage(stdout, recs, *format)
}
