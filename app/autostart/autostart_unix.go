//go:build !windows && !darwin

package autostart

import (
	"errors"
	"fmt"
	"os"
)

// Enable writes the XDG autostart entry (configDir: os.UserConfigDir()).
func Enable(configDir string, e Entry) error {
	if err := writeAtomic(desktopPath(configDir), []byte(Desktop(e)), 0o644); err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Disable removes it; a missing entry is not an error.
func Disable(configDir string) error {
	if err := os.Remove(desktopPath(configDir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Enabled reports whether the entry exists.
func Enabled(configDir string) (bool, error) {
	_, err := os.Stat(desktopPath(configDir))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
