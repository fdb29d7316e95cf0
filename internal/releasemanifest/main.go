// Command releasemanifest writes and signs the release manifest for a
// build (make release-manifest): the version, the release notes' address,
// each archive's address and SHA-256, and when the manifest stops being
// believed (-valid after now), signed with the release's ed25519 key,
// which is read from a file outside the repository. Only a release's
// version (a tag's, from a clean tree) is signed.
//
//	go run ./internal/releasemanifest -key ~/.keypool-release.key -version 1.4.0 \
//	    -base https://example.com/v1.4.0/ -notes https://example.com/v1.4.0 \
//	    -o build/latest.json linux/amd64=build/keypool-headless-linux-amd64.tar.xz …
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"keypool/app/update"
	"keypool/app/version"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "releasemanifest:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("releasemanifest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "the release's private key `FILE` (a base64 ed25519 seed), kept outside the repository")
	ver := fs.String("version", "", "the release's semantic version (no leading v)")
	base := fs.String("base", "", "the address the archives are published under")
	notes := fs.String("notes", "", "the release notes' address")
	out := fs.String("o", "build/latest.json", "where to write the signed manifest")
	valid := fs.Duration("valid", 180*24*time.Hour, "how long the manifest is believed: sign it again before then, or ship a release")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *ver == "" || *base == "" || fs.NArg() == 0 {
		return errors.New("want -key FILE -version V -base URL [-notes URL] [-o FILE] OS/ARCH=ARCHIVE…")
	}
	if !released(*ver) {
		return fmt.Errorf("version %q is not a release: build from a vX.Y.Z tag with a clean tree", *ver)
	}
	key, err := update.ReadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	m := update.Manifest{Version: *ver, Notes: *notes, Date: now.Format("2006-01-02"), Expires: now.Add(*valid).Format(time.RFC3339)}
	for _, a := range fs.Args() {
		sys, path, ok := strings.Cut(a, "=")
		goos, goarch, ok2 := strings.Cut(sys, "/")
		if !ok || !ok2 {
			return fmt.Errorf("%q: want OS/ARCH=ARCHIVE", a)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m.Archives = append(m.Archives, update.Archive{OS: goos, Arch: goarch, Flavors: flavors(filepath.Base(path), goos),
			URL:    strings.TrimSuffix(*base, "/") + "/" + filepath.Base(path),
			SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
	}
	doc, err := update.Sign(m, key)
	if err != nil {
		return err
	}
	if err := writeFile(*out, append(doc, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: Keypool %s, %d archives, signed, believed until %s\n", *out, m.Version, len(m.Archives), m.Expires)
	return nil
}

// released reports whether v is a release's version: a tag's, not a build
// between tags ("-3-gabc…"), from a changed tree or without a tag
// (build metadata).
func released(v string) bool {
	return version.Valid(v) && !strings.Contains(v, "+") && !betweenTags.MatchString(v)
}

var betweenTags = regexp.MustCompile(`-\d+-g[0-9a-f]+$`)

// writeFile writes the manifest whole or not at all: beside its place,
// then renamed over it.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// flavors are the builds an archive holds, by its name: a headless archive
// the headless one; the Windows zip both (keypool.exe and
// keypool-headless.exe); any other the desktop app.
func flavors(name, goos string) []string {
	switch {
	case strings.HasPrefix(name, "keypool-headless-"):
		return []string{update.Headless}
	case goos == "windows":
		return []string{update.Desktop, update.Headless}
	}
	return []string{update.Desktop}
}
