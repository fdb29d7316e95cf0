package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"

	"keypool/app"
)

func accountsCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: keypool accounts list|add|set|remove|enable|disable|reset", errUsage)
	}
	sub, args := args[0], args[1:]
	p := app.Params{Keychain: app.UserKeychain()}
	fs := flag.NewFlagSet("keypool accounts "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.DataDir, "data-dir", "", "Keypool's data dir (default: the user config dir's keypool folder)")
	var (
		typ, id, name, apiURL, authHeader, proxy, models string
		dailyBudget, monthlyBudget                       float64
		priority                                         int
		disabled, allowOverage                           bool
	)
	if sub == "add" {
		fs.StringVar(&typ, "type", string(app.APIKeyKinds()[0]), typeHelp())
		fs.StringVar(&id, "id", "", "account id (letters, digits, . _ -)")
		fs.StringVar(&name, "name", "", "display name (default: the id)")
		fs.IntVar(&priority, "priority", 0, "larger is preferred")
		fs.BoolVar(&disabled, "disabled", false, "add it switched off")
		fs.StringVar(&apiURL, "api-url", "", "base URL of a mirror or Claude-compatible third party")
		fs.StringVar(&authHeader, "auth-header", "", "x-api-key (default) or bearer")
		fs.StringVar(&proxy, "proxy", "", "socks5://[user@]host:port or http://[user@]host:port")
		fs.Float64Var(&dailyBudget, "daily-budget", 0, "USD a day this key may spend (0: no cap)")
		fs.Float64Var(&monthlyBudget, "monthly-budget", 0, "USD a month this key may spend (0: no cap)")
		fs.StringVar(&models, "models", "", `only these models, comma-separated, "*" wildcards (e.g. "claude-opus-*,claude-sonnet-*")`)
		fs.BoolVar(&allowOverage, "allow-overage", false, "claude-oauth: once its plan is spent, serve on paid extra usage (billed per token; after every plan and API key is tried by priority; off by default)")
		fs.Usage = func() {
			io.WriteString(fs.Output(), accountsAddUsage)
			fs.PrintDefaults()
		}
	}
	if sub == "set" {
		fs.BoolVar(&allowOverage, "allow-overage", false, "true: once its plan is spent, this subscription serves on paid extra usage; false: it rests until its plan resets")
		fs.Usage = func() {
			io.WriteString(fs.Output(), "Usage: keypool accounts set ID --allow-overage=true|false\n\nChanges a setting of an existing account.\n\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}

	switch sub {
	case "list":
		return app.Status(ctx, p, stdout)
	case "add":
		acct := app.Account{ID: id, Type: app.Kind(typ), Name: name, Priority: priority, Enabled: !disabled,
			APIURL: strings.TrimSuffix(apiURL, "/"), AuthHeader: authHeader, DailyBudgetUSD: dailyBudget, MonthlyBudgetUSD: monthlyBudget,
			AllowOverage: allowOverage}
		for _, m := range strings.Split(models, ",") {
			if m = strings.TrimSpace(m); m != "" {
				acct.Models = append(acct.Models, m)
			}
		}
		in := newSecretReader(stdin, stderr)
		sec := map[app.SecretField]app.Secret{}
		field, what := app.FieldAPIKey, "API key"
		if app.KindIsOAuth(acct.Type) {
			// A long-lived token such as `claude setup-token` prints; browser
			// logins use keypool login.
			field, what = app.FieldAccessToken, "token"
		}
		key, err := in.read(what + " (one line on standard input)")
		if err != nil {
			return fmt.Errorf("read the %s: %w", what, err)
		}
		sec[field] = app.NewSecret(key)
		if proxy != "" {
			px, hasUser, err := parseProxy(proxy)
			if err != nil {
				return err
			}
			acct.Proxy = px
			if hasUser {
				pw, err := in.read("Proxy password (one line on standard input, empty for none)")
				if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errEmptyLine) {
					return fmt.Errorf("read the proxy password: %w", err)
				}
				if pw != "" {
					sec[app.FieldProxyPassword] = app.NewSecret(pw)
				}
			}
		}
		accts, done, err := app.OpenAccounts(p)
		if err != nil {
			return err
		}
		defer done()
		if err := accts.Add(acct, sec); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added %s (%s); its key is in the keychain.\n", acct.ID, acct.Type)
		return nil
	case "set":
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "allow-overage" })
		if len(pos) != 1 || !set {
			return fmt.Errorf("%w: keypool accounts set ID --allow-overage=true|false", errUsage)
		}
		accts, done, err := app.OpenAccounts(p)
		if err != nil {
			return err
		}
		defer done()
		if err := accts.SetAllowOverage(pos[0], allowOverage); err != nil {
			return err
		}
		if allowOverage {
			fmt.Fprintf(stdout, "%s: once its plan is spent, it serves on paid extra usage (after every account that can serve within a plan).\n", pos[0])
		} else {
			fmt.Fprintf(stdout, "%s: it never serves on paid extra usage; once its plan is spent it rests until the plan resets.\n", pos[0])
		}
		return nil
	case "reset":
		if len(pos) != 1 {
			return fmt.Errorf("%w: keypool accounts reset ID", errUsage)
		}
		switch err := app.ResetCooldowns(p, pos[0]); {
		case errors.Is(err, app.ErrNotRunning):
			fmt.Fprintf(stdout, "%s: nothing to reset. Keypool is not running, and an account's cooldowns end when it stops.\n", pos[0])
		case err != nil:
			return err
		default:
			fmt.Fprintf(stdout, "%s: cooldowns cleared; it serves again now (its next failure rests it again).\n", pos[0])
		}
		return nil
	case "remove", "enable", "disable":
		if len(pos) != 1 {
			return fmt.Errorf("%w: keypool accounts %s ID", errUsage, sub)
		}
		accts, done, err := app.OpenAccounts(p)
		if err != nil {
			return err
		}
		defer done()
		id := pos[0]
		switch sub {
		case "remove":
			err = accts.Remove(id)
		default:
			err = accts.SetEnabled(id, sub == "enable")
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s.\n", id, map[string]string{"remove": "removed", "enable": "enabled", "disable": "disabled"}[sub])
		return nil
	}
	return fmt.Errorf("%w: unknown accounts command %q (list, add, set, remove, enable, disable, reset)", errUsage, sub)
}

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p := app.Params{Keychain: app.UserKeychain()}
	fs := flag.NewFlagSet("keypool import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.DataDir, "data-dir", "", "Keypool's data dir (default: the user config dir's keypool folder)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool import FILE", errUsage)
	}
	file := pos[0]
	cfg, err := app.LoadConfig(app.Params{ConfigPath: file})
	if err != nil {
		return err
	}
	accts, done, err := app.OpenAccounts(p)
	if err != nil {
		return err
	}
	defer done()
	added, skipped, err := app.Import(accts, cfg)
	for _, id := range added {
		fmt.Fprintf(stdout, "imported %s\n", id)
	}
	for _, id := range skipped {
		fmt.Fprintf(stdout, "skipped %s: an account with that id exists\n", id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d imported, %d skipped. Secrets are in the keychain; you can delete %s or remove its keys.\n", len(added), len(skipped), file)
	return nil
}

// accountsAddUsage heads keypool accounts add --help.
const accountsAddUsage = `Usage: keypool accounts add --id ID [flags] < key

The API key (or, for claude-oauth, the token) is read from standard input: one
line, typed at a prompt that does not echo it, or piped (printf %s "$KEY" |
keypool accounts add ...). With --proxy user@host:port the proxy password
follows on the next line. Keys go to the OS keychain, never to a file or the
command line. Without a desktop keyring, see "keypool serve --config".

Flags:
`

// secretReader reads secrets one line at a time: from a terminal without
// echoing them, otherwise (a pipe, a file, a test) as plain lines.
type secretReader struct {
	term   *os.File // non-nil when stdin is a terminal
	lines  *bufio.Reader
	prompt io.Writer
}

func newSecretReader(stdin io.Reader, prompt io.Writer) *secretReader {
	r := &secretReader{prompt: prompt}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.term = f
	} else {
		r.lines = bufio.NewReader(stdin)
	}
	return r
}

// read prompts for one secret and reads it.
func (r *secretReader) read(what string) (string, error) {
	if r.term == nil {
		fmt.Fprintf(r.prompt, "%s:\n", what)
		return readLine(r.lines)
	}
	fmt.Fprintf(r.prompt, "%s (not shown as you type): ", what)
	b, err := term.ReadPassword(int(r.term.Fd()))
	fmt.Fprintln(r.prompt)
	if err != nil {
		return "", err
	}
	if line := strings.TrimSpace(string(b)); line != "" {
		return line, nil
	}
	return "", errEmptyLine
}

// errEmptyLine is what reading an empty line gives.
var errEmptyLine = errors.New("empty line")

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "" {
		return line, nil
	}
	if err == nil {
		err = errEmptyLine
	}
	return "", err
}

// parseProxy reads socks5://[user@]host:port or http://[user@]host:port. A
// password in the URL is refused: it would sit in shell history.
func parseProxy(s string) (*app.AccountProxy, bool, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "socks5" && u.Scheme != "http") || u.Hostname() == "" || u.Port() == "" {
		return nil, false, fmt.Errorf("--proxy %q: want socks5://[user@]host:port or http://[user@]host:port", s)
	}
	if _, has := u.User.Password(); has {
		return nil, false, errors.New("--proxy: leave the password out of the URL; it is read from standard input")
	}
	port, _ := strconv.Atoi(u.Port())
	return &app.AccountProxy{Type: u.Scheme, Host: u.Hostname(), Port: port, Username: u.User.Username()}, u.User.Username() != "", nil
}

// parseArgs parses flags that may come before or after the positional
// arguments (keypool import FILE --data-dir DIR), returning the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func loginCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		p       = app.Params{Keychain: app.UserKeychain()}
		lp      app.LoginParams
		fromCLI bool
	)
	fs := flag.NewFlagSet("keypool login", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.DataDir, "data-dir", "", "Keypool's data dir (default: the user config dir's keypool folder)")
	fs.StringVar(&lp.ID, "id", "", "account id (default: from the login's e-mail)")
	fs.StringVar(&lp.Name, "name", "", "display name")
	fs.IntVar(&lp.Priority, "priority", 0, "larger is preferred")
	fs.BoolVar(&lp.NoBrowser, "no-browser", false, "print the URL instead of opening a browser; paste the answer here")
	fs.BoolVar(&lp.Device, "device", false, "codex: log in with a device code (no callback port)")
	fs.BoolVar(&lp.SetupToken, "setup-token", false, "claude: a one-year, inference-only token (no refresh)")
	fs.StringVar(&lp.Project, "project", "", "gemini: your Google Cloud project (Code Assist Standard/Enterprise)")
	fs.BoolVar(&lp.Converted, "converted", false, "claude: also answer OpenAI-format chat apps with this subscription (converted; off by default)")
	fs.BoolVar(&lp.AllowOverage, "allow-overage", false, "claude: once the plan is spent, serve on paid extra usage (billed per token; off by default)")
	fs.BoolVar(&fromCLI, "from-cli", false, "claude, codex: take over the login of Claude Code (~/.claude/.credentials.json) or Codex (~/.codex/auth.json)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool login claude|codex|gemini [flags]", errUsage)
	}
	kind, ok := app.LoginKind(pos[0])
	if !ok {
		return fmt.Errorf("%w: log in to claude, codex or gemini, not %q", errUsage, pos[0])
	}
	lp.Kind = kind
	accts, done, err := app.OpenAccounts(p)
	if err != nil {
		return err
	}
	defer done()

	var acct app.Account
	if fromCLI {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, "Warning: Keypool now owns this login's refresh token. The CLI's own copy stops working at the next refresh; log the CLI in again if you still use it directly.")
		acct, err = app.ImportCLILogin(accts, lp.Kind, home, lp.ID)
		if err != nil {
			return err
		}
	} else {
		for _, l := range app.BrowserLogins() {
			if l.Kind == lp.Kind && l.Note != "" {
				fmt.Fprintln(stderr, "Note:", l.Note)
			}
			if l.Kind == lp.Kind && l.Project && lp.Project == "" {
				fmt.Fprintln(stderr, "Keypool finds your Google Cloud project after login; pass --project ID to name one.")
			}
		}
		lp.Paste = stdin
		lp.Progress = func(msg string) { fmt.Fprintln(stderr, msg) }
		if !lp.Device {
			fmt.Fprintln(stderr, "If the browser cannot reach back, paste the final URL (or code) here and press Enter.")
		}
		acct, err = app.Login(ctx, accts, lp)
		if err != nil {
			return err
		}
	}
	who := acct.Email
	if who == "" {
		who = acct.AccountID
	}
	fmt.Fprintf(stdout, "Logged in: account %s (%s) %s. Its tokens are in the keychain.\n", acct.ID, acct.Type, who)
	return nil
}

// typeHelp is --type's help, from the kinds this build serves.
func typeHelp() string {
	var kinds []string
	for _, k := range app.APIKeyKinds() {
		about := app.KindLabel(k)
		if app.KindNeedsAPIURL(k) {
			about += ", with --api-url"
		}
		kinds = append(kinds, fmt.Sprintf("%s (%s)", k, about))
	}
	return "account type: " + strings.Join(kinds, ", ") + ", or claude-oauth with a setup token; browser logins use keypool login"
}
