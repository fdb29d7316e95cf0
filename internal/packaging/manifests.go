package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// Manifests is what the package managers' manifests are written from: the
// version, where a release's files are downloaded, and the archives, as
// paths that may or may not exist (a Linux build has no macOS zip).
type Manifests struct {
	Meta
	Version    string
	ReleaseURL string   // a template: {{.Version}} is the version
	Headless   []string // keypool-headless-OS-ARCH.tar.xz (make package-headless)
	Mac        []string // keypool-darwin-ARCH.zip, Keypool.app zipped (make package on macOS)
	Windows    []string // keypool-windows-ARCH.zip (make package-windows)
}

// Archive is one file of a release, as a manifest names it.
type Archive struct {
	Path, Name string
	OS, Arch   string // GOOS and GOARCH, from the name
	URL        string
	SHA256     string   // hex, lower case
	Exes       []string // a zip's .exe files, as paths inside it
}

// archiveName reads GOOS and GOARCH from a release file's name:
// keypool-headless-linux-amd64.tar.xz, keypool-windows-arm64.zip.
var archiveName = regexp.MustCompile(`-(linux|darwin|windows|freebsd)-([a-z0-9]+)\.(tar\.xz|tar\.gz|zip)$`)

// The manifests' files under the output folder.
const (
	formulaFile    = "homebrew/Formula/keypool-headless.rb"
	caskFile       = "homebrew/Casks/keypool.rb"
	scoopFile      = "scoop/keypool.json"
	wingetID       = "Keypool.Keypool"
	wingetVersion  = "winget/" + wingetID + ".yaml"
	wingetInstall  = "winget/" + wingetID + ".installer.yaml"
	wingetLocale   = "winget/" + wingetID + ".locale.en-US.yaml"
	wingetManifest = "1.6.0"
)

// manifest is one package manager's manifest: its files (template →
// output), the archives it is written for, and what makes them.
type manifest struct {
	what     string
	files    [][2]string
	archives []string
	makes    string
}

// WriteManifests writes, under out, each manifest that has at least one
// of its archives: the Homebrew formula (the headless archives), the
// Homebrew cask (the macOS zips), the Scoop and the winget manifests (the
// Windows zips). An archive that does not exist is named, with what makes
// it, and left out; a manifest none of whose archives exist is not
// written, and an older copy of it is removed, so no manifest of another
// version stays behind.
func WriteManifests(root, out string, m Manifests, log io.Writer) error {
	var err error
	if m.App, err = readApp(root); err != nil {
		return err
	}
	base, err := releaseURL(m.ReleaseURL, m.Version)
	if err != nil {
		return err
	}
	list := []manifest{
		{"Homebrew formula (headless build)", [][2]string{{"homebrew-formula.rb.tmpl", formulaFile}}, m.Headless,
			"make package-headless-all"},
		{"Homebrew cask (macOS app)", [][2]string{{"homebrew-cask.rb.tmpl", caskFile}}, m.Mac,
			"make package on a Mac"},
		{"Scoop manifest", [][2]string{{"scoop.json.tmpl", scoopFile}}, m.Windows,
			"make package-windows"},
		{"winget manifest", [][2]string{{"winget-version.yaml.tmpl", wingetVersion},
			{"winget-installer.yaml.tmpl", wingetInstall}, {"winget-locale.yaml.tmpl", wingetLocale}}, m.Windows,
			"make package-windows"},
	}
	cache := map[string]Archive{}
	for _, mf := range list {
		var have []Archive
		for _, p := range mf.archives {
			a, ok := cache[p]
			if !ok {
				a, err = readArchive(p, base)
				if errors.Is(err, os.ErrNotExist) {
					fmt.Fprintf(log, "%s: %s does not exist (%s): left out\n", mf.what, p, mf.makes)
					continue
				}
				if err != nil {
					return fmt.Errorf("%s: %w", mf.what, err)
				}
				cache[p] = a
			}
			have = append(have, a)
		}
		if len(have) == 0 {
			for _, f := range mf.files {
				os.Remove(filepath.Join(out, f[1]))
			}
			fmt.Fprintf(log, "%s: not written: none of its archives exist\n", mf.what)
			continue
		}
		data := manifestData{Manifests: m, Archives: have}
		var names []string
		for _, a := range have {
			names = append(names, a.Name)
		}
		if err := data.check(); err != nil {
			return fmt.Errorf("%s: %w", mf.what, err)
		}
		for _, f := range mf.files {
			if err := render(root, f[0], filepath.Join(out, f[1]), data); err != nil {
				return fmt.Errorf("%s: %w", mf.what, err)
			}
			fmt.Fprintf(log, "%s: wrote %s (%s: %s)\n", mf.what, filepath.Join(out, f[1]), m.Version, strings.Join(names, ", "))
		}
	}
	if m.License == "" && len(cache) > 0 {
		fmt.Fprintln(log, "note: no licence is named (PKG_LICENSE): winget-pkgs needs one before the winget manifest can be submitted")
	}
	return nil
}

// releaseURL renders the release URL's template with the version; it ends
// in a slash, for the archives' names.
func releaseURL(tmpl, version string) (string, error) {
	t, err := template.New("release-url").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("release URL %q: %w", tmpl, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Version string }{version}); err != nil {
		return "", fmt.Errorf("release URL %q: %w", tmpl, err)
	}
	u := b.String()
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u, nil
}

// readArchive hashes the file at p and reads what its name says; a zip's
// .exe files are listed.
func readArchive(p, base string) (Archive, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return Archive{}, err
	}
	name := filepath.Base(p)
	m := archiveName.FindStringSubmatch(name)
	if m == nil {
		return Archive{}, fmt.Errorf("%s: the name does not say the OS and architecture (keypool-…-OS-ARCH.tar.xz or .zip)", p)
	}
	sum := sha256.Sum256(b)
	a := Archive{Path: p, Name: name, OS: m[1], Arch: m[2], URL: base + name, SHA256: hex.EncodeToString(sum[:])}
	if m[1] == "windows" {
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return Archive{}, fmt.Errorf("%s: %w", p, err)
		}
		for _, f := range z.File {
			if strings.EqualFold(filepath.Ext(f.Name), ".exe") {
				a.Exes = append(a.Exes, f.Name)
			}
		}
		if len(a.Exes) == 0 {
			return Archive{}, fmt.Errorf("%s holds no .exe", p)
		}
	}
	return a, nil
}

// manifestData is what a manifest's template is rendered with.
type manifestData struct {
	Manifests
	Archives []Archive
}

// The architectures' names: Homebrew's blocks, Scoop's and winget's keys.
var (
	brewArch   = map[string]string{"arm64": "arm", "amd64": "intel"}
	brewOS     = map[string]string{"darwin": "macos", "linux": "linux"}
	scoopArch  = map[string]string{"amd64": "64bit", "arm64": "arm64", "386": "32bit"}
	wingetArch = map[string]string{"amd64": "x64", "arm64": "arm64", "386": "x86"}
)

// check fails on an archive no manifest can name, and on two for one
// platform.
func (d manifestData) check() error {
	seen := map[string]bool{}
	for _, a := range d.Archives {
		if seen[a.OS+"/"+a.Arch] {
			return fmt.Errorf("two archives for %s/%s", a.OS, a.Arch)
		}
		seen[a.OS+"/"+a.Arch] = true
		_, b := brewArch[a.Arch]
		_, s := scoopArch[a.Arch]
		if a.OS == "windows" && !s || a.OS != "windows" && (!b || brewOS[a.OS] == "") {
			return fmt.Errorf("%s: no package manager names %s/%s here", a.Path, a.OS, a.Arch)
		}
	}
	return nil
}

// BrewOSBlock is one of Homebrew's on_macos / on_linux blocks with its
// archives, each in an on_arm / on_intel block.
type BrewOSBlock struct {
	OS       string // macos, linux
	Archives []BrewArchive
}

// BrewArchive is an archive in its on_arm or on_intel block.
type BrewArchive struct {
	Arch string // arm, intel
	Archive
}

// Brew groups the archives as a formula's on_macos and on_linux blocks.
func (d manifestData) Brew() []BrewOSBlock {
	var out []BrewOSBlock
	for _, os := range []string{"darwin", "linux"} {
		b := BrewOSBlock{OS: brewOS[os]}
		for _, a := range d.Archives {
			if a.OS == os {
				b.Archives = append(b.Archives, BrewArchive{brewArch[a.Arch], a})
			}
		}
		if len(b.Archives) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// BrewArchives are the archives in their on_arm / on_intel blocks (a cask).
func (d manifestData) BrewArchives() []BrewArchive {
	var out []BrewArchive
	for _, a := range d.Archives {
		out = append(out, BrewArchive{brewArch[a.Arch], a})
	}
	return out
}

// ScoopArch and WingetArch name an archive's architecture for Scoop and
// winget.
func (a Archive) ScoopArch() string  { return scoopArch[a.Arch] }
func (a Archive) WingetArch() string { return wingetArch[a.Arch] }

// Exes are the .exe files of the Windows zips (all of them, once each).
func (d manifestData) Exes() []string {
	var out []string
	for _, a := range d.Archives {
		for _, e := range a.Exes {
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// Alias is the command a Windows .exe is run by: its name without .exe.
func Alias(exe string) string {
	exe = filepath.Base(strings.ReplaceAll(exe, `\`, "/"))
	return strings.TrimSuffix(exe, filepath.Ext(exe))
}

func init() { funcs["alias"] = Alias }

// WingetID and WingetManifest are the winget package's identifier and the
// manifests' schema version.
func (manifestData) WingetID() string       { return wingetID }
func (manifestData) WingetManifest() string { return wingetManifest }

func init() {
	// winpath writes a path inside a zip as Windows does.
	funcs["winpath"] = func(p string) string { return strings.ReplaceAll(p, "/", `\`) }
}
