package autostart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Service is the relay alone (keypool serve) as a systemd service: a user
// unit, started with the user's session manager, or a system unit that
// runs at boot as User. It logs to stderr, which systemd hands to the
// journal.
type Service struct {
	Exe    string   // absolute path of the keypool binary
	Args   []string // serve's flags: --config FILE, --data-dir DIR
	System bool
	User   string // the account a system unit runs as
	// StateDirectory, for a system unit, is a folder under /var/lib that
	// systemd makes for User before the relay starts ("keypool"): the one
	// place, besides /tmp, ProtectSystem=full leaves to be written that
	// is sure to be there. Args name it as the data dir.
	StateDirectory string
}

// UnitName is the unit's file name, and what systemctl calls it.
const UnitName = "keypool.service"

// UnitPath is where the unit goes: under the user's config dir
// (os.UserConfigDir, which follows XDG_CONFIG_HOME as systemd does) for a
// user unit, in /etc/systemd/system for a system one.
func UnitPath(system bool, configDir string) string {
	if system {
		return filepath.Join("/etc/systemd/system", UnitName)
	}
	return filepath.Join(configDir, "systemd", "user", UnitName)
}

// Unit is the unit file's content.
func (s Service) Unit() string {
	var b strings.Builder
	b.WriteString("# Written by keypool service install; keypool service uninstall removes it.\n[Unit]\nDescription=Keypool relay (AI account pool)\n")
	if s.System {
		// A user manager has no network-online.target of its own.
		b.WriteString("Wants=network-online.target\nAfter=network-online.target\n")
	}
	b.WriteString("\n[Service]\nType=exec\n")
	if s.System {
		fmt.Fprintf(&b, "User=%s\n", s.User)
	}
	fmt.Fprintf(&b, "ExecStart=%s\n", execStart(append([]string{s.Exe, "serve"}, s.Args...)))
	b.WriteString("Restart=on-failure\nRestartSec=5s\n")
	// Stopping lets requests finish (5 s) and refreshes in flight save
	// their rotated tokens (up to 30 s): SIGTERM does what Ctrl-C does.
	b.WriteString("TimeoutStopSec=45s\nSyslogIdentifier=keypool\nNoNewPrivileges=yes\n")
	if s.System {
		// /usr, /boot and /etc are read-only to it: the data dir must lie
		// elsewhere (InstallService checks).
		b.WriteString("ProtectSystem=full\nPrivateTmp=yes\n")
		if s.StateDirectory != "" {
			fmt.Fprintf(&b, "StateDirectory=%s\n", s.StateDirectory)
		}
	}
	target := "default.target"
	if s.System {
		target = "multi-user.target"
	}
	fmt.Fprintf(&b, "\n[Install]\nWantedBy=%s\n", target)
	return b.String()
}

// execStart quotes a command line as systemd reads ExecStart: a word with
// a space, quote or backslash in double quotes with C escapes; % and $
// doubled, so neither a specifier nor a variable is expanded.
func execStart(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		w = strings.NewReplacer("%", "%%", "$", "$$").Replace(w)
		if w == "" || strings.ContainsAny(w, " \t\n\"'\\;") {
			w = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(w) + `"`
		}
		out[i] = w
	}
	return strings.Join(out, " ")
}

// InstallService writes s's unit at path.
func InstallService(path string, s Service) error {
	if err := writeAtomic(path, []byte(s.Unit()), 0o644); err != nil {
		return fmt.Errorf("service unit: %w", err)
	}
	return nil
}

// UninstallService removes the unit at path and the links systemctl
// enable made to it beside it (*.wants/keypool.service), so nothing is
// left pointing at a missing file. A missing unit is not an error.
func UninstallService(path string) error {
	links, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.wants", UnitName))
	for _, l := range append(links, path) {
		if err := os.Remove(l); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("service unit: %w", err)
		}
	}
	return nil
}
