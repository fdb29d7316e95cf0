package update

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// Manager is a package manager that installed Keypool: an update goes
// through it, never around it.
type Manager struct {
	Name    string // "apt", "Homebrew"…
	Command string // what updates Keypool through it
}

// Owner asks a system's package database whether it owns path: dpkg -S,
// rpm -qf. It is a variable so that tests can answer for it.
type Owner func(tool, path string) bool

// SystemOwner asks the real tools, where they are installed.
func SystemOwner(tool, path string) bool {
	var cmd *exec.Cmd
	switch tool {
	case "dpkg":
		cmd = exec.Command("dpkg-query", "-S", path)
	case "rpm":
		cmd = exec.Command("rpm", "-qf", path)
	default:
		return false
	}
	if _, err := exec.LookPath(cmd.Path); err != nil {
		return false
	}
	return cmd.Run() == nil
}

// ManagedBy is the package manager that installed the executable at exe,
// if one did: judged by where it lies (Homebrew, Scoop, winget) or by the
// system's package database (a .deb or .rpm).
func ManagedBy(exe string, owns Owner) (Manager, bool) {
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	p := strings.ReplaceAll(exe, `\`, "/") // a Windows path, wherever it is read
	lower := strings.ToLower(p)
	switch {
	case strings.Contains(p, "/Cellar/") || strings.Contains(p, "/Caskroom/") || strings.Contains(p, "/homebrew/") || strings.Contains(p, "/linuxbrew/"):
		if strings.Contains(p, "/Caskroom/") || strings.Contains(p, ".app/") {
			return Manager{Name: "Homebrew", Command: "brew upgrade --cask keypool"}, true
		}
		return Manager{Name: "Homebrew", Command: "brew upgrade " + formula(p)}, true
	case strings.Contains(lower, "/scoop/apps/"):
		return Manager{Name: "Scoop", Command: "scoop update keypool"}, true
	case strings.Contains(lower, "/winget/packages/") || strings.Contains(lower, "/microsoft/winget/"):
		return Manager{Name: "winget", Command: "winget upgrade Keypool.Keypool"}, true
	}
	if owns == nil {
		return Manager{}, false
	}
	switch {
	case owns("dpkg", exe):
		return Manager{Name: "apt", Command: "sudo apt update && sudo apt install --only-upgrade keypool"}, true
	case owns("rpm", exe):
		return Manager{Name: "dnf", Command: "sudo dnf upgrade keypool"}, true
	}
	return Manager{}, false
}

// formula is the Homebrew formula whose keg holds p (…/Cellar/NAME/…):
// keypool-headless, the one the project's tap ships, when p names none.
func formula(p string) string {
	if _, rest, ok := strings.Cut(p, "/Cellar/"); ok {
		if name, _, ok := strings.Cut(rest, "/"); ok && name != "" {
			return name
		}
	}
	return "keypool-headless"
}
