// Package assets holds the files Keypool embeds: its icon, shared by the
// packaged app (FyneApp.toml) and, later, the window and tray.
package assets

import _ "embed"

// Icon is the 256×256 PNG app icon.
//
//go:embed icon.png
var Icon []byte

// Tray icons, one per mood: all good, some accounts out, none available,
// paused.
var (
	//go:embed tray_ok.png
	TrayOK []byte
	//go:embed tray_warn.png
	TrayWarn []byte
	//go:embed tray_down.png
	TrayDown []byte
	//go:embed tray_paused.png
	TrayPaused []byte
)
