// Command packaging writes what a release needs besides the binaries: the
// version the packages carry, nfpm's configuration for the .deb and .rpm
// (with the .desktop entry), and the Homebrew, Scoop and winget manifests,
// each from a template in packaging/. make package runs it:
//
//	go run ./internal/packaging version  [-describe D -commit C] [-format semver|deb|rpm]
//	go run ./internal/packaging nfpm      -describe D -commit C -arch A -bin B -headless H -o FILE
//	go run ./internal/packaging manifests -describe D -commit C -release-url URL -o DIR
//	                                      -headless 'A…' -mac 'A…' -windows 'A…'
//
// D and C are what make gives the binaries (git describe's output and the
// commit), so every file carries the version keypool version prints.
// Without -describe and -commit, version asks git itself.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"keypool/app/version"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  packaging version   [-describe D -commit C] [-format semver|deb|rpm]
  packaging nfpm      -describe D -commit C -arch A -bin FILE -headless FILE -o FILE
  packaging manifests -describe D -commit C -release-url URL -o DIR -headless 'FILE…' -mac 'FILE…' -windows 'FILE…'`

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	describe := fs.String("describe", "", "git describe's output, as make passes it to the build")
	commit := fs.String("commit", "", "the commit, as make passes it to the build")
	root := fs.String("root", ".", "the repository (packaging/, FyneApp.toml)")
	meta := Meta{}
	fs.StringVar(&meta.Maintainer, "maintainer", "", "the packages' maintainer: Name <email>")
	fs.StringVar(&meta.Homepage, "homepage", "", "the project's home page")
	fs.StringVar(&meta.License, "license", "", "the licence, an SPDX id; empty: none is named")
	switch args[0] {
	case "version":
		format := fs.String("format", "semver", "semver (as keypool version prints it), deb or rpm")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w\n%s", err, usage)
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["describe"] && !set["commit"] {
			*describe, *commit = fromGit(*root)
		}
		v := version.FromDescribe(*describe, *commit)
		switch *format {
		case "semver":
		case "deb", "rpm":
			pv, err := PackageVersion(v)
			if err != nil {
				return err
			}
			v = pv
		default:
			return fmt.Errorf("-format %s: want semver, deb or rpm", *format)
		}
		fmt.Fprintln(stdout, v)
		return nil
	case "nfpm":
		var c NFPMConfig
		fs.StringVar(&c.Arch, "arch", "", "GOARCH of the binaries")
		fs.StringVar(&c.Bin, "bin", "", "the desktop binary (make build)")
		fs.StringVar(&c.Headless, "headless", "", "the headless binary (make build-headless)")
		out := fs.String("o", "", "where nfpm's configuration goes; the .desktop entry goes beside it")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w\n%s", err, usage)
		}
		if c.Arch == "" || c.Bin == "" || c.Headless == "" || *out == "" {
			return fmt.Errorf("nfpm needs -arch, -bin, -headless and -o\n%s", usage)
		}
		c.Meta, c.Version = meta, version.FromDescribe(*describe, *commit)
		return WriteNFPM(*root, *out, c, stdout)
	case "manifests":
		var m Manifests
		fs.StringVar(&m.ReleaseURL, "release-url", "", "where a release's files are downloaded from; {{.Version}} is replaced")
		headless := fs.String("headless", "", "the headless archives (make package-headless), space-separated")
		mac := fs.String("mac", "", "the macOS app's zips (make package on macOS), space-separated")
		windows := fs.String("windows", "", "the Windows zips (make package-windows), space-separated")
		out := fs.String("o", "", "the folder the manifests go to")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%w\n%s", err, usage)
		}
		if m.ReleaseURL == "" || *out == "" {
			return fmt.Errorf("manifests needs -release-url and -o\n%s", usage)
		}
		m.Meta, m.Version = meta, version.FromDescribe(*describe, *commit)
		m.Headless, m.Mac, m.Windows = strings.Fields(*headless), strings.Fields(*mac), strings.Fields(*windows)
		return WriteManifests(*root, *out, m, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// fromGit asks git for what make passes as DESCRIBE and COMMIT: the same
// commands, in the repository at root. Outside a checkout, both are empty.
func fromGit(root string) (describe, commit string) {
	d := exec.Command("sh", "-c", version.DescribeCommand)
	d.Dir = root
	out, _ := d.Output()
	c := exec.Command("git", "rev-parse", "--short=12", "HEAD")
	c.Dir = root
	cout, _ := c.Output()
	return strings.TrimSpace(string(out)), strings.TrimSpace(string(cout))
}
