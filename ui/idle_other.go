//go:build !(cgo && (linux || freebsd || netbsd || openbsd) && !wayland)

package ui

// newDisplayWaiter is nil where Keypool cannot wait on the display Fyne
// draws on (anything but X11): there Fyne's loop runs as Fyne runs it.
func newDisplayWaiter() displayWaiter { return nil }
