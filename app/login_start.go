package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"keypool/app/autostart"
)

// autostartDir is where this OS keeps per-user login items.
func autostartDir() (string, error) {
	switch runtime.GOOS {
	case "darwin":
		return os.UserHomeDir()
	case "windows":
		return "", nil
	}
	return os.UserConfigDir()
}

// SetStartAtLogin turns starting Keypool at login (in the tray only) on or
// off for the running binary.
func SetStartAtLogin(on bool) error {
	dir, err := autostartDir()
	if err != nil {
		return err
	}
	if !on {
		return autostart.Disable(dir)
	}
	exe, err := thisProgram()
	if err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	return autostart.Enable(dir, autostart.Entry{Exe: exe, Args: []string{"--hidden"}})
}

// thisProgram is the running binary's absolute path, links resolved: what
// an entry that starts Keypool later must run.
func thisProgram() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this program: %w", err)
	}
	return filepath.EvalSymlinks(exe)
}

// StartAtLogin reports whether Keypool starts at login.
func StartAtLogin() (bool, error) {
	dir, err := autostartDir()
	if err != nil {
		return false, err
	}
	return autostart.Enabled(dir)
}
