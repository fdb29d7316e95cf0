package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"keypool/app"
)

// envCmd prints the exports that point a CLI at the relay.
func envCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("env", &p, stderr)
	shell := fs.String("shell", "bash", "bash, zsh, fish, powershell or cmd")
	remote := urlFlag(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool env claude|codex|gemini [--shell bash|zsh|fish|powershell|cmd] [--url URL]", errUsage)
	}
	c, err := app.ParseClient(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	acc, err := clientAccess(p, *remote, stdin, stderr)
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

// urlFlag adds --url to fs: the address of a Keypool on another machine.
func urlFlag(fs *flag.FlagSet) *string {
	return fs.String("url", "", "a Keypool on another machine, at `URL` (https://host:port); its client key is read from standard input")
}

// clientAccess is where a CLI reaches Keypool: the relay of p's data dir,
// or the one at remote, whose client key is read from stdin (this
// machine's keys are not that relay's).
func clientAccess(p app.Params, remote string, stdin io.Reader, stderr io.Writer) (app.ClientAccess, error) {
	if remote == "" {
		return app.Access(p, app.UserKeychain())
	}
	// What was given is never echoed, nor url.Parse's error, which quotes
	// it: it may hold the key (user:key@, ?key=).
	u, err := url.Parse(remote)
	if err == nil && u.User != nil {
		return app.ClientAccess{}, fmt.Errorf("%w: --url: leave the key out of the URL (want https://host[:port]); it is read from standard input", errUsage)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return app.ClientAccess{}, fmt.Errorf("%w: --url: want https://host[:port] (or http://), optionally with a path, and no key, query or fragment: where clients reach that Keypool", errUsage)
	}
	base := u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "Warning: %s is plain HTTP: the client key crosses the network in the clear, unless the network is encrypted itself (a tailnet).\n", base)
	}
	key, err := newSecretReader(stdin, stderr).read("Client key for " + base)
	if err != nil {
		return app.ClientAccess{}, fmt.Errorf("read the client key for %s from standard input: %w", base, err)
	}
	return app.ClientAccess{Base: base, Key: key}, nil
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
func connectCmd(args []string, on bool, stdin io.Reader, stdout, stderr io.Writer) error {
	var p app.Params
	name := map[bool]string{true: "connect", false: "disconnect"}[on]
	fs := commonFlags(name, &p, stderr)
	// Disconnecting undoes what was written: it takes only the folder.
	var (
		statusLine      = new(bool)
		profile, remote = new(string), new(string)
		project         = fs.String("project", "", "the CLI's project configuration in this folder instead of the user's own")
	)
	if on {
		statusLine = fs.Bool("statusline", false, "Claude Code: also show this session's account and the pool's runway in its status line")
		profile = fs.String("profile", "", "with --project: the profile that serves the project (keypool profiles list)")
		remote = urlFlag(fs)
	}
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
	if *project != "" {
		return connectProject(p, c, *project, *profile, on, stdout)
	}
	if *profile != "" {
		return fmt.Errorf("%w: --profile goes with --project DIR: a profile serves a project", errUsage)
	}
	if !on {
		if err := app.DisconnectClient(c); err != nil {
			return fmt.Errorf("disconnect %s: %w", c, err)
		}
		fmt.Fprintf(stdout, "%s no longer uses Keypool; its config is as it was.\n", c)
		printOverrides(stdout, c)
		return nil
	}
	if *statusLine && *remote != "" {
		return fmt.Errorf("%w: --statusline reads the Keypool on this machine: leave it out with --url", errUsage)
	}
	acc, err := clientAccess(p, *remote, stdin, stderr)
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
	printOverrides(stdout, c)
	return nil
}

// printOverrides says which variables of the user's environment change
// what c does with Keypool, where they are set and what that means.
func printOverrides(w io.Writer, c app.Client) {
	list := app.ClientEnvOverrides(c)
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(w, "\nYour environment sets %d variable(s) that matter to %s:\n", len(list), c)
	for _, o := range list {
		fmt.Fprintln(w, "  "+o.String())
	}
}

// connectProject connects (or disconnects) CLI c in a project folder to a
// profile.
func connectProject(p app.Params, c app.Client, dir, profile string, on bool, stdout io.Writer) error {
	if !on {
		if err := app.DisconnectProject(p, dir, c); err != nil {
			return fmt.Errorf("disconnect %s in %s: %w", c, dir, err)
		}
		fmt.Fprintf(stdout, "%s in %s no longer uses a Keypool profile; its project files are as they were.\n", c, dir)
		return nil
	}
	acc, err := app.ConnectProject(p, app.UserKeychain(), dir, c, profile)
	if err != nil {
		return fmt.Errorf("connect %s in %s: %w", c, dir, err)
	}
	if c == app.Codex {
		// No files: the relay routes by the folder Codex names.
		fmt.Fprintf(stdout, "Codex sessions started in %s (or below) are served by profile %s only. Codex reads no project config, so Keypool goes by the folder each request names; Codex itself must use Keypool (keypool connect codex).\n", dir, profile)
		if on, _ := app.ClientConnected(c); !on {
			fmt.Fprintln(stdout, "Codex is not connected yet: run keypool connect codex.")
		}
		printOverrides(stdout, c)
		return nil
	}
	fmt.Fprintf(stdout, "%s started in %s now uses Keypool at %s with profile %s: only its accounts serve it (backups of the files changed were kept).\n", c, dir, acc.Base, profile)
	if c == app.GeminiCLI {
		fmt.Fprintln(stdout, "The folder is marked trusted for Gemini CLI (~/.gemini/trustedFolders.json), which reads a project's .gemini/.env only there.")
	}
	printOverrides(stdout, c)
	return nil
}

// clientsCmd says which CLIs are connected, and which projects.
func clientsCmd(args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("clients", &p, stderr)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	for _, c := range app.Clients {
		on, err := app.ClientConnected(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-7s %s\n", c, map[bool]string{true: "connected", false: "not connected"}[on])
	}
	projects, err := app.Projects(p)
	if err != nil {
		return err
	}
	if len(projects) > 0 {
		fmt.Fprintln(stdout, "\nProjects:")
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, pr := range projects {
			fmt.Fprintf(tw, "  %s\t%s\tprofile %s\n", pr.Dir, pr.Client, pr.Profile)
		}
		tw.Flush()
	}
	return nil
}

// usageCmd exports usage records.
func usageCmd(args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("usage", &p, stderr)
	since := fs.String("since", "24h", "records since a time: today, yesterday, a duration back (24h, 90m, 7d, 2w) or a date (2026-11-01)")
	format := fs.String("format", "csv", "csv or json")
	by := fs.String("by", "", "totals per day and account, model, client or profile instead of the records")
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
