// Package assets holds the files Keypool embeds: its icon, shared by the
// packaged app (FyneApp.toml) and the window, the tray's icons, and the
// providers' marks.
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

// The providers' marks in the window, drawn for Keypool (24×24 SVG, each in
// its provider's colour): a spark for Anthropic, three rings for OpenAI, a
// four-pointed star for Google.
var (
	//go:embed marks/anthropic.svg
	MarkAnthropic []byte
	//go:embed marks/openai.svg
	MarkOpenAI []byte
	//go:embed marks/google.svg
	MarkGoogle []byte
)
