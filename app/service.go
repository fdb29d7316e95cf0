package app

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"

	"keypool/app/autostart"
)

// ServiceUnit is a systemd unit InstallService wrote or UninstallService
// removed, with the commands that make systemd follow.
type ServiceUnit struct {
	Path string
	Exec string // what it runs
	Next string // the systemctl command to run next
	Logs string // how to read its log
}

// InstallService writes the systemd unit that runs this binary as
// keypool serve with p's config and data dir (as absolute paths; the
// config is checked first): a user unit, or with system a unit in
// /etc/systemd/system that runs at boot as the user who installs it (the
// one sudo was run by).
func InstallService(p Params, system bool) (ServiceUnit, error) {
	path, err := unitPath(system)
	if err != nil {
		return ServiceUnit{}, err
	}
	if _, err := Resolve(p); err != nil {
		return ServiceUnit{}, err
	}
	exe, err := thisProgram()
	if err != nil {
		return ServiceUnit{}, fmt.Errorf("service: %w", err)
	}
	s := autostart.Service{Exe: exe, System: system}
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
	if system {
		if s.User, err = serviceUser(); err != nil {
			return ServiceUnit{}, err
		}
	}
	if err := autostart.InstallService(path, s); err != nil {
		return ServiceUnit{}, err
	}
	u := serviceUnit(path, system, "daemon-reload", "enable --now keypool")
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

func unitPath(system bool) (string, error) {
	if runtime.GOOS != "linux" {
		return "", errors.New("keypool service writes systemd units, on Linux; on macOS a LaunchAgent does the same (README: Keypool on a server)")
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
