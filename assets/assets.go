// Package assets holds the files Keypool embeds: its icon, shared by the
// packaged app (FyneApp.toml) and, later, the window and tray.
package assets

import _ "embed"

// Icon is the 256×256 PNG app icon.
//
//go:embed icon.png
var Icon []byte
