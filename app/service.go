package app

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"keypool/app/autostart"
)

// ServiceUnit is a systemd unit InstallService wrote or UninstallService
// removed, with the commands that make systemd follow.
type ServiceUnit struct {
	Path    string
	Exec    string // what it runs
	Next    string // the systemctl command to run next
	Logs    string // how to read its log
	DataDir string // where its database is
}

// StateDataDir is a system unit's data dir when no --data-dir is given:
// the StateDirectory systemd makes for it.
const StateDataDir = "/var/lib/keypool"

// readOnlyToSystemUnits are what ProtectSystem=full makes read-only to a
// system unit.
var readOnlyToSystemUnits = []string{"/usr", "/boot", "/efi", "/etc"}

// InstallService writes the systemd unit that runs this binary as
// keypool serve with p's config and data dir (as absolute paths; the
// config is checked first): a user unit, or with system a unit in
// /etc/systemd/system that runs at boot as the user who installs it (the
// one sudo was run by). A system unit without a data dir keeps its
// database in StateDataDir; the database's folder must be one the service
// can write (for a system unit, outside /usr and /etc).
func InstallService(p Params, system bool) (ServiceUnit, error) {
	path, err := unitPath(system)
	if err != nil {
		return ServiceUnit{}, err
	}
	exe, err := thisProgram()
	if err != nil {
		return ServiceUnit{}, fmt.Errorf("service: %w", err)
	}
	s := autostart.Service{Exe: exe, System: system}
	if system {
		if s.User, err = serviceUser(); err != nil {
			return ServiceUnit{}, err
		}
		if p.DataDir == "" {
			p.DataDir, s.StateDirectory = StateDataDir, filepath.Base(StateDataDir)
		}
	}
	setup, err := Resolve(p)
	if err != nil {
		return ServiceUnit{}, err
	}
	dataDir, err := filepath.Abs(filepath.Dir(setup.Files.DB))
	if err != nil {
		return ServiceUnit{}, fmt.Errorf("service: %w", err)
	}
	if s.StateDirectory == "" {
		if err := serviceCanWrite(dataDir, system, s.User); err != nil {
			return ServiceUnit{}, err
		}
	}
	for _, f := range []struct{ flag, path string }{{"--config", p.ConfigPath}, {"--data-dir", p.DataDir}} {
		if f.path == "" {
			continue
		}
		abs, err := filepath.Abs(f.path)
		if err != nil {
			return ServiceUnit{}, fmt.Errorf("service: %s %s: %w", f.flag, f.path, err)
		}
		s.Args = append(s.Args, f.flag, abs)
	}
	if err := autostart.InstallService(path, s); err != nil {
		return ServiceUnit{}, err
	}
	u := serviceUnit(path, system, "daemon-reload", "enable --now keypool")
	u.DataDir = dataDir
	u.Exec = exe + " serve"
	for _, a := range s.Args {
		u.Exec += " " + a
	}
	return u, nil
}

// UninstallService removes the unit InstallService wrote, and the links
// systemctl enable made to it.
func UninstallService(system bool) (ServiceUnit, error) {
	path, err := unitPath(system)
	if err != nil {
		return ServiceUnit{}, err
	}
	if err := autostart.UninstallService(path); err != nil {
		return ServiceUnit{}, err
	}
	return serviceUnit(path, system, "stop keypool", "daemon-reload"), nil
}

// serviceCanWrite says why the service could not keep its database in
// dir; nil when it can. The folder, or the nearest one above it that
// exists (serve makes the rest), must be writable by the service's user,
// and for a system unit outside what ProtectSystem=full makes read-only.
func serviceCanWrite(dir string, system bool, user string) error {
	fix := "give --data-dir DIR, a folder the service's user can write"
	if system {
		fix = "leave out --data-dir (the database then goes to " + StateDataDir + "), or give --data-dir DIR, a folder " + user + " can write outside /usr and /etc"
		for _, ro := range readOnlyToSystemUnits {
			if dir == ro || strings.HasPrefix(dir, ro+"/") {
				return fmt.Errorf("service: the database would be in %s, which a system service cannot write (ProtectSystem=full keeps %s read-only): %s", dir, ro, fix)
			}
		}
	}
	existing := dir
	for {
		if _, err := os.Stat(existing); err == nil || filepath.Dir(existing) == existing {
			break
		}
		existing = filepath.Dir(existing)
	}
	if err := writableBy(existing, user); err != nil {
		return fmt.Errorf("service: the database would be in %s, but %w: %s", dir, err, fix)
	}
	return nil
}

// unitDir, when set, is where units go instead of the real places (tests).
var unitDir string

func unitPath(system bool) (string, error) {
	if runtime.GOOS != "linux" {
		return "", errors.New("keypool service writes systemd units, on Linux; on macOS a LaunchAgent does the same (docs/server.md)")
	}
	if unitDir != "" {
		return filepath.Join(unitDir, autostart.UnitName), nil
	}
	dir, err := os.UserConfigDir()
	if err != nil && !system {
		return "", fmt.Errorf("service: %w", err)
	}
	return autostart.UnitPath(system, dir), nil
}

// serviceUnit names the commands that follow a change to the unit at path.
func serviceUnit(path string, system bool, then ...string) ServiceUnit {
	ctl, logs := "systemctl --user ", "journalctl --user -u keypool -f"
	if system {
		ctl, logs = "sudo systemctl ", "journalctl -u keypool -f"
	}
	return ServiceUnit{Path: path, Next: ctl + then[0] + " && " + ctl + then[1], Logs: logs}
}

// serviceUser is who a system unit runs as: the user who ran sudo, or
// whoever runs this.
func serviceUser() (string, error) {
	if name := os.Getenv("SUDO_USER"); name != "" && os.Geteuid() == 0 {
		return name, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("service: who runs it: %w", err)
	}
	return u.Username, nil
}
