//go:build darwin

package autostart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// plistPath is the per-user LaunchAgent's path, under home.
func plistPath(home string) string {
	return filepath.Join(home, "Library", "LaunchAgents", ID+".plist")
}

// Enable writes the LaunchAgent (home: os.UserHomeDir()).
func Enable(home string, e Entry) error {
	if err := writeAtomic(plistPath(home), []byte(Plist(e)), 0o644); err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Disable removes it; a missing agent is not an error.
func Disable(home string) error {
	if err := os.Remove(plistPath(home)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Enabled reports whether the agent exists.
func Enabled(home string) (bool, error) {
	_, err := os.Stat(plistPath(home))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
