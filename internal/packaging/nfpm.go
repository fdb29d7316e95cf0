package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/pelletier/go-toml/v2"
)

// Meta is what every package and manifest says about Keypool: the flags
// make passes (maintainer, home page, licence) and FyneApp.toml's
// name, id, icon and descriptions.
type Meta struct {
	Maintainer string
	Homepage   string
	License    string // an SPDX id; empty while the project names none
	App        App
}

// App is FyneApp.toml, the file fyne package reads: the .deb and .rpm
// describe the app as the fyne bundle does.
type App struct {
	Details struct {
		Icon string
		Name string
		ID   string
	}
	LinuxAndBSD struct {
		GenericName string
		Categories  []string
		Comment     string
		Keywords    []string
	}
}

func readApp(root string) (App, error) {
	var a App
	b, err := os.ReadFile(filepath.Join(root, "FyneApp.toml"))
	if err != nil {
		return a, err
	}
	if err := toml.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("FyneApp.toml: %w", err)
	}
	if a.Details.Name == "" || a.Details.ID == "" || a.Details.Icon == "" || a.LinuxAndBSD.Comment == "" {
		return a, fmt.Errorf("FyneApp.toml: want Details.Name, ID and Icon, and LinuxAndBSD.Comment")
	}
	return a, nil
}

// NFPMConfig is what packaging/nfpm.yaml.tmpl is rendered with.
type NFPMConfig struct {
	Meta
	Version        string // semantic, as keypool version prints it
	PackageVersion string // as dpkg and rpm order it (PackageVersion)
	Arch           string // GOARCH; nfpm names it for each format
	Bin, Headless  string // the two binaries
	Root           string // the repository, for the files packaged as they are
	Desktop        string // the rendered .desktop entry
	RPMLib         string // what rpm adds to a library's name on this arch: "()(64bit)" or ""
}

// DesktopName is the .desktop entry's file name, by the app id, as
// fyne package names it.
func (c NFPMConfig) DesktopName() string { return c.App.Details.ID + ".desktop" }

// is64bit lists the GOARCHes rpm marks libraries (64bit) on.
var is64bit = map[string]bool{"amd64": true, "arm64": true, "ppc64le": true, "ppc64": true, "s390x": true, "riscv64": true, "loong64": true, "mips64": true, "mips64le": true}

// WriteNFPM writes nfpm's configuration for the .deb and .rpm at out, and
// the .desktop entry beside it.
func WriteNFPM(root, out string, c NFPMConfig, log io.Writer) error {
	var err error
	if c.App, err = readApp(root); err != nil {
		return err
	}
	if c.PackageVersion, err = PackageVersion(c.Version); err != nil {
		return err
	}
	if c.Root, err = filepath.Abs(root); err != nil {
		return err
	}
	for _, p := range []*string{&c.Bin, &c.Headless} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
		if _, err := os.Stat(*p); err != nil {
			return fmt.Errorf("the binary to package: %w", err)
		}
	}
	if is64bit[c.Arch] {
		c.RPMLib = "()(64bit)"
	}
	dir, err := filepath.Abs(filepath.Dir(out))
	if err != nil {
		return err
	}
	c.Desktop = filepath.Join(dir, c.DesktopName())
	if err := render(root, "app.desktop.tmpl", c.Desktop, c); err != nil {
		return err
	}
	if err := render(root, "nfpm.yaml.tmpl", out, c); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s (version %s, package version %s) and %s\n", out, c.Version, c.PackageVersion, c.Desktop)
	return nil
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// q quotes a string for JSON, and so for YAML too.
	"q": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	},
	"join":  strings.Join,
	"upper": strings.ToUpper,
}

// render writes packaging/name, rendered with data, at out.
func render(root, name, out string, data any) error {
	b, err := os.ReadFile(filepath.Join(root, "packaging", name))
	if err != nil {
		return err
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
