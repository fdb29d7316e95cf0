// Package cli is keypool's commands: it reads a command line and runs the
// desktop app, the relay alone (keypool serve) or one of the commands that
// manage accounts, client keys and the CLIs' own configs. It reaches
// Keypool through package app; the window is handed in as a Desktop, so
// that a build without one links no GUI code.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"keypool/app"
)

// serveMemoryLimit is the relay's soft memory limit (see runRelay).
const serveMemoryLimit = 64 << 20

// Desktop runs the desktop app: the core app p opens, its window and its
// tray, until ctx is done or the person quits. Where it can show no window
// it returns an error wrapping ErrNoWindow before doing anything else, and
// the relay runs headless instead.
type Desktop func(ctx context.Context, p app.Params, hidden bool, stdout, stderr io.Writer) error

// ErrNoWindow is what a Desktop returns where no window can be shown (no
// display; a build without cgo).
var ErrNoWindow = errors.New("no window can be shown")

// ExitCode is the process's exit status for what Run returned: 2 for a
// usage error (and --help), 1 for any other.
func ExitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

const usage = `Keypool pools your AI accounts behind one relay on 127.0.0.1.

Usage:
  keypool [--hidden] [--config FILE] [--data-dir DIR] [--port N]
                                   the desktop app: window, tray and relay (no display: headless;
                                   --hidden: tray only, as at login)
  keypool serve [--config FILE] [--data-dir DIR] [--host H] [--port N]
                [--tls-cert FILE --tls-key FILE]
                                   run the relay headless (over HTTPS with the PEM files)
  keypool service install [--user|--system] [--config FILE] [--data-dir DIR] | uninstall [--user|--system]
                                   run keypool serve as a systemd service (logs in the journal)
  keypool status [--config FILE] [--data-dir DIR]
                                   accounts, cooldowns, client keys and today's usage
  keypool accounts list | remove ID | enable ID | disable ID | reset ID [--data-dir DIR]
  keypool accounts add --id ID [--type T] [--name N] [--priority N] [--api-url URL]
                [--auth-header x-api-key|bearer] [--proxy URL] [--models M] [--disabled]
                [--daily-budget USD] [--monthly-budget USD] [--allow-overage] [--data-dir DIR]
  keypool accounts set ID --allow-overage=true|false [--data-dir DIR]
                                   the app's own accounts (secrets in the OS keychain);
                                   add reads the key from standard input; set: may a
                                   subscription serve on paid extra usage once its plan is spent
  keypool login claude|codex|gemini [--id ID] [--name N] [--priority N] [--no-browser]
                [--device] [--setup-token] [--from-cli] [--project P] [--converted] [--allow-overage]
                                   log in with the browser; tokens go to the OS keychain
  keypool import FILE [--data-dir DIR]
                                   move a config file's accounts in, secrets into the keychain
  keypool client-keys list | add [--name N] | remove ID [--data-dir DIR]
                                   the keys local clients must send (none: any local program)
  keypool profiles list | add NAME --accounts a,b | remove NAME [--data-dir DIR]
                                   one pool per project: a profile's own client key is served
                                   by its accounts only
  keypool env claude|codex|gemini [--shell bash|zsh|fish|powershell|cmd] [--url URL]
                [--config FILE] [--data-dir DIR]
                                   print the exports that point a CLI at the relay
  keypool connect claude|codex|gemini [--statusline] [--url URL]
                [--project DIR --profile NAME] [--config FILE] [--data-dir DIR]
  keypool disconnect claude|codex|gemini [--project DIR] [--config FILE] [--data-dir DIR]
                                   write (or undo) a CLI's own config to use Keypool
                                   (--project: that folder's config, served by a profile)
                                   (--url: a Keypool on another machine; its client key
                                   is read from standard input)
                                   (--statusline: Claude Code's status line shows Keypool too)
  keypool statusline [--config FILE] [--data-dir DIR]
                                   one line for Claude Code's statusLine: this session's
                                   account, its fullest window, the pool's runway
  keypool clients [--config FILE] [--data-dir DIR]
                                   which CLIs are connected, and which projects
  keypool usage [--since 24h|7d|today|yesterday|DATE] [--format csv|json] [--by account|model|client|profile]
                [--config FILE] [--data-dir DIR]
                                   export usage records, or totals per day
  keypool autostart on|off|status  start Keypool at login (in the tray only)
  keypool update [--rollback] [--config FILE] [--data-dir DIR]
                                   install the newer Keypool the signed release feed names
                                   (checked against the release key and its SHA-256; the
                                   previous binary is kept); --rollback puts it back.
                                   Installed by a package manager: says which command to run
  keypool version                  print the version

Point the CLIs at it (the key: one of api_keys):
  Claude Code: ANTHROPIC_BASE_URL=http://127.0.0.1:3000 ANTHROPIC_AUTH_TOKEN=<key>
  Codex CLI:   openai_base_url = "http://127.0.0.1:3000/openai/v1" in ~/.codex/config.toml (keypool connect codex)
  Gemini CLI:  GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:3000/gemini GEMINI_API_KEY=<key>

Run "keypool COMMAND --help" for a command's flags.
`

// Run runs the command args name (none: the desktop app, through desktop;
// nil: this build has no window) until ctx is done.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, desktop Desktop) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd := "gui"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "gui":
		return gui(ctx, args, stdout, stderr, desktop)
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "status":
		return status(ctx, args, stdout, stderr)
	case "accounts":
		return accountsCmd(ctx, args, stdin, stdout, stderr)
	case "import":
		return importCmd(ctx, args, stdout, stderr)
	case "login":
		return loginCmd(ctx, args, stdin, stdout, stderr)
	case "env":
		return envCmd(ctx, args, stdin, stdout, stderr)
	case "autostart":
		return autostartCmd(args, stdout)
	case "connect", "disconnect":
		return connectCmd(args, cmd == "connect", stdin, stdout, stderr)
	case "service":
		return serviceCmd(args, stdout, stderr)
	case "client-keys":
		return clientKeysCmd(args, stdout, stderr)
	case "profiles":
		return profilesCmd(args, stdout, stderr)
	case "clients":
		return clientsCmd(args, stdout, stderr)
	case "usage":
		return usageCmd(args, stdout, stderr)
	case "statusline":
		return statuslineCmd(ctx, args, stdin, stdout, stderr)
	case "update":
		return updateCmd(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "keypool", app.Version())
		return nil
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// gui runs the desktop app, or the relay headless where desktop shows no
// window: keypool --hidden is what the autostart entry runs, on a server too.
func gui(ctx context.Context, args []string, stdout, stderr io.Writer, desktop Desktop) error {
	p, hidden, err := startFlags(args, stderr)
	if err != nil {
		return err
	}
	if desktop == nil {
		return runRelay(ctx, p, stdout, stderr)
	}
	err = desktop(ctx, p, hidden, stdout, stderr)
	if errors.Is(err, ErrNoWindow) {
		fmt.Fprintf(stderr, "Running the relay headless (keypool serve): %v.\n", err)
		return runRelay(ctx, p, stdout, stderr)
	}
	return err
}

// commonFlags are the flags serve and status share.
func commonFlags(name string, p *app.Params, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("keypool "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.ConfigPath, "config", "", "a seed-format config.toml (accounts with their secrets inline)")
	fs.StringVar(&p.DataDir, "data-dir", "", "where Keypool keeps its database (default: the user config dir's keypool folder, or the config's database_path)")
	return fs
}

// portFlag adds --port to fs, for p: 0 lets the system pick a free port
// (keypool status and the log say which).
func portFlag(fs *flag.FlagSet, p *app.Params) {
	fs.Var(portValue{&p.Port}, "port", "listen port `N` (overrides [server] port; 0: any free port)")
}

// portValue is --port's value: a port, or app.AnyPort for 0.
type portValue struct{ port *int }

func (v portValue) String() string {
	if v.port == nil || *v.port == 0 {
		return ""
	}
	if *v.port == app.AnyPort {
		return "0"
	}
	return strconv.Itoa(*v.port)
}

func (v portValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: use 1 to 65535, or 0 for any free port", s)
	}
	if n == 0 {
		n = app.AnyPort
	}
	*v.port = n
	return nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("serve", &p, stderr)
	fs.StringVar(&p.Host, "host", "", "listen host (overrides [server] host)")
	fs.StringVar(&p.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `FILE` (its chain after it; overrides [server] tls_cert)")
	fs.StringVar(&p.TLSKey, "tls-key", "", "the certificate's PEM private key `FILE` (overrides [server] tls_key)")
	portFlag(fs, &p)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, fs.Args())
	}
	return runRelay(ctx, p, stdout, stderr)
}

// runRelay runs the relay headless until ctx is done: keypool serve, and the
// desktop app where there is no display.
func runRelay(ctx context.Context, p app.Params, stdout, stderr io.Writer) error {
	// The log level comes from the config; a bad config is reported before
	// anything else happens.
	setup, err := app.Resolve(p)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: setup.LogLevel()}))
	p.Logger = log
	p.Keychain = app.UserKeychain()
	p.LogAlerts = true // no window to notify

	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: with many open streams the heap is collected before
		// it doubles; under light use it is never reached. GOMEMLIMIT
		// overrides it.
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	a, err := app.Open(p)
	if err != nil {
		return err
	}
	defer a.Close()
	accounts := len(a.Health().Accounts)
	log.Info("keypool relay listening", "url", a.URL(), "version", app.Version().Version, "accounts", accounts, "database", a.DatabasePath())
	if w := a.Warning(); w != "" && !log.Enabled(ctx, slog.LevelWarn) {
		// Open logged it; said once, here, when the log level hides it.
		fmt.Fprintln(stderr, "Warning:", w)
	}
	if accounts == 0 {
		fmt.Fprintf(stdout, "Keypool is running at %s with no accounts yet: add one (keypool login claude, keypool accounts add, keypool import FILE) or start with a seed-format config, keypool serve --config config.toml (see config.example.toml).\n", a.URL())
	} else {
		fmt.Fprintf(stdout, "Keypool is running at %s. Point Claude Code at it: export ANTHROPIC_BASE_URL=%s ANTHROPIC_AUTH_TOKEN=<one of api_keys>\n", a.URL(), a.URL())
	}
	if err := a.Run(ctx); err != nil {
		return err
	}
	log.Info("keypool relay stopped")
	return a.Close()
}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("status", &p, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	p.Keychain = app.UserKeychain() // to check the client keys
	return app.Status(ctx, p, stdout)
}
