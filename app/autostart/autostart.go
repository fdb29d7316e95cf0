// Package autostart starts Keypool without being asked: at login, in the
// tray only (an XDG autostart entry on Linux and the BSDs, a LaunchAgent on
// macOS, a Run key on Windows), or the relay alone as a systemd service.
// Files are written atomically.
package autostart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// Entry is how Keypool is started at login.
type Entry struct {
	Exe  string   // absolute path of the keypool binary
	Args []string // "--hidden": the tray only
}

// ID is the app's reverse-DNS id (FyneApp.toml).
const ID = "app.keypool.keypool"

// The icon is named by the app id, as fyne package and the .deb and .rpm
// install it.
var desktopTmpl = template.Must(template.New("desktop").Parse(`[Desktop Entry]
Type=Application
Name=Keypool
GenericName=AI account pool
Comment=Pools your AI accounts behind one local relay
Exec={{.Exec}}
Icon=app.keypool.keypool
Terminal=false
Categories=Development;
X-GNOME-Autostart-enabled=true
`))

// Desktop is the XDG autostart entry's content.
func Desktop(e Entry) string {
	var b bytes.Buffer
	desktopTmpl.Execute(&b, struct{ Exec string }{execLine(e)})
	return b.String()
}

// execLine quotes per the Desktop Entry spec: arguments with reserved
// characters in double quotes, with \ " ` $ escaped.
func execLine(e Entry) string {
	parts := []string{e.Exe}
	parts = append(parts, e.Args...)
	for i, p := range parts {
		if strings.ContainsAny(p, " \t\n\"'\\><~|&;$*?#()`") {
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
			parts[i] = `"` + r.Replace(p) + `"`
		}
		parts[i] = strings.ReplaceAll(parts[i], "%", "%%")
	}
	return strings.Join(parts, " ")
}

var plistTmpl = template.Must(template.New("plist").Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{.Label}}</string>
	<key>ProgramArguments</key>
	<array>{{range .Args}}
		<string>{{.}}</string>{{end}}
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`))

// Plist is the macOS LaunchAgent's content.
func Plist(e Entry) string {
	var b bytes.Buffer
	plistTmpl.Execute(&b, struct {
		Label string
		Args  []string
	}{ID, xmlEscaped(append([]string{e.Exe}, e.Args...))})
	return b.String()
}

func xmlEscaped(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		var b bytes.Buffer
		xml.EscapeText(&b, []byte(s))
		out[i] = b.String()
	}
	return out
}

// RunValue is the Windows Run key's value: the command line.
func RunValue(e Entry) string {
	parts := []string{`"` + e.Exe + `"`}
	parts = append(parts, e.Args...)
	return strings.Join(parts, " ")
}

// Paths of the per-user entries, under home (and the XDG config dir).
func desktopPath(configDir string) string {
	return filepath.Join(configDir, "autostart", "keypool.desktop")
}

// ErrUnsupported is returned where this build cannot manage autostart.
var ErrUnsupported = errors.New("start at login is not supported on this system")

// writeAtomic writes data to path through a temp file in the same folder.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keypool-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
