//go:build windows

package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// Enable sets the HKCU Run value (dir is unused on Windows).
func Enable(_ string, e Entry) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	defer k.Close()
	return k.SetStringValue("Keypool", RunValue(e))
}

// Disable deletes it; a missing value is not an error.
func Disable(_ string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("start at login: %w", err)
	}
	defer k.Close()
	if err := k.DeleteValue("Keypool"); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("start at login: %w", err)
	}
	return nil
}

// Enabled reports whether the value exists.
func Enabled(_ string) (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if err != nil {
		return false, nil
	}
	defer k.Close()
	_, _, err = k.GetStringValue("Keypool")
	return err == nil, nil
}
