package main

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// archive writes a throwaway release file at dir/name: random bytes, or
// for a .zip a zip holding files; it returns the path and the SHA-256.
func archive(t *testing.T, dir, name string, files ...string) (string, string) {
	t.Helper()
	var b []byte
	if strings.HasSuffix(name, ".zip") {
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		for _, f := range files {
			w, _ := z.Create(f)
			w.Write([]byte(rand.Text()))
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		b = buf.Bytes()
	} else {
		b = []byte(rand.Text())
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Each manifest carries the version and the SHA-256 and URL of each
// archive it was given that exists, and names the ones that do not.
func TestManifests(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	linux, linuxSum := archive(t, in, "keypool-headless-linux-amd64.tar.xz")
	darwin, darwinSum := archive(t, in, "keypool-headless-darwin-arm64.tar.xz")
	mac, macSum := archive(t, in, "keypool-darwin-arm64.zip", "Keypool.app/Contents/Info.plist")
	win, winSum := archive(t, in, "keypool-windows-amd64.zip", "keypool.exe", "keypool-headless.exe", "README.md")
	winArm, winArmSum := archive(t, in, "keypool-windows-arm64.zip", "keypool.exe", "keypool-headless.exe")
	missing := filepath.Join(in, "keypool-headless-linux-arm64.tar.xz")
	const v = "1.4.0-3-g1a2b3c4d5e6f"
	const base = "https://example.test/releases/v" + v + "/"
	m := Manifests{
		Meta:       Meta{Homepage: "https://example.test/keypool"},
		Version:    v,
		ReleaseURL: "https://example.test/releases/v{{.Version}}",
		Headless:   []string{linux, missing, darwin},
		Mac:        []string{mac, filepath.Join(in, "keypool-darwin-amd64.zip")},
		Windows:    []string{win, winArm},
	}
	var log bytes.Buffer
	if err := WriteManifests("../..", out, m, &log); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	for _, want := range []string{
		"Homebrew formula (headless build): " + missing + " does not exist",
		"Homebrew cask (macOS app): " + filepath.Join(in, "keypool-darwin-amd64.zip") + " does not exist",
		"winget-pkgs needs one",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log:\n%s\nwant %q", log.String(), want)
		}
	}

	formula := read(t, filepath.Join(out, formulaFile))
	for _, want := range []string{
		`version "` + v + `"`,
		"on_linux do\n    on_intel do\n      url \"" + base + "keypool-headless-linux-amd64.tar.xz\"\n      sha256 \"" + linuxSum + "\"",
		"on_macos do\n    on_arm do\n      url \"" + base + "keypool-headless-darwin-arm64.tar.xz\"\n      sha256 \"" + darwinSum + "\"",
		`bin.install "keypool"`,
	} {
		if !strings.Contains(formula, want) {
			t.Errorf("the formula:\n%s\nwant %q", formula, want)
		}
	}
	if strings.Contains(formula, "linux-arm64") || strings.Contains(formula, "license") {
		t.Errorf("the formula:\n%s\nwant no missing archive and no licence", formula)
	}

	cask := read(t, filepath.Join(out, caskFile))
	for _, want := range []string{
		`version "` + v + `"`,
		"on_arm do\n    url \"" + base + "keypool-darwin-arm64.zip\"\n    sha256 \"" + macSum + "\"",
		"depends_on arch: :arm64", // the only one there is
		`app "Keypool.app"`,
	} {
		if !strings.Contains(cask, want) {
			t.Errorf("the cask:\n%s\nwant %q", cask, want)
		}
	}

	var scoop struct {
		Version      string
		License      *string
		Architecture map[string]struct{ URL, Hash string }
		Bin          []string
		Shortcuts    [][]string
	}
	if err := json.Unmarshal([]byte(read(t, filepath.Join(out, scoopFile))), &scoop); err != nil {
		t.Fatalf("the Scoop manifest: %v", err)
	}
	if scoop.Version != v || scoop.License != nil ||
		scoop.Architecture["64bit"].URL != base+"keypool-windows-amd64.zip" || scoop.Architecture["64bit"].Hash != winSum ||
		scoop.Architecture["arm64"].URL != base+"keypool-windows-arm64.zip" || scoop.Architecture["arm64"].Hash != winArmSum ||
		strings.Join(scoop.Bin, " ") != "keypool.exe keypool-headless.exe" ||
		len(scoop.Shortcuts) != 1 || strings.Join(scoop.Shortcuts[0], " ") != "keypool.exe Keypool" {
		t.Errorf("the Scoop manifest: %+v\nwant version %s, both zips with their hashes, both programs and a shortcut", scoop, v)
	}

	installer := read(t, filepath.Join(out, wingetInstall))
	for _, want := range []string{
		`PackageVersion: "` + v + `"`,
		"- Architecture: x64\n    InstallerUrl: \"" + base + "keypool-windows-amd64.zip\"\n    InstallerSha256: " + strings.ToUpper(winSum) + "\n",
		"- Architecture: arm64\n    InstallerUrl: \"" + base + "keypool-windows-arm64.zip\"\n    InstallerSha256: " + strings.ToUpper(winArmSum) + "\n",
		"- RelativeFilePath: \"keypool.exe\"\n    PortableCommandAlias: \"keypool\"",
		"- RelativeFilePath: \"keypool-headless.exe\"\n    PortableCommandAlias: \"keypool-headless\"",
	} {
		if !strings.Contains(installer, want) {
			t.Errorf("the winget installer manifest:\n%s\nwant %q", installer, want)
		}
	}
	for _, f := range []string{wingetVersion, wingetLocale} {
		if s := read(t, filepath.Join(out, f)); !strings.Contains(s, `PackageVersion: "`+v+`"`) || !strings.Contains(s, "PackageIdentifier: "+wingetID) {
			t.Errorf("%s:\n%s\nwant version %s", f, s, v)
		}
	}

	// A licence, once there is one, is named in each.
	m.License = "MIT"
	if err := WriteManifests("../..", out, m, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{formulaFile, scoopFile, wingetLocale} {
		if s := read(t, filepath.Join(out, f)); !strings.Contains(s, `"MIT"`) {
			t.Errorf("%s:\n%s\nwant the licence MIT", f, s)
		}
	}

	// A later run without the Windows and macOS archives writes no
	// manifest for them, and removes the older ones.
	m.Mac, m.Windows = nil, []string{filepath.Join(in, "keypool-windows-386.zip")}
	log.Reset()
	if err := WriteManifests("../..", out, m, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caskFile, scoopFile, wingetVersion, wingetInstall, wingetLocale} {
		if _, err := os.Stat(filepath.Join(out, f)); !os.IsNotExist(err) {
			t.Errorf("%s after a run without its archives: %v, want it removed", f, err)
		}
	}
	if !strings.Contains(log.String(), "Scoop manifest: not written") || !strings.Contains(log.String(), "keypool-windows-386.zip does not exist (make package-windows)") {
		t.Errorf("the log:\n%s\nwant the Scoop manifest not written, and the missing zip named", log.String())
	}
}

// What no manifest can name is refused: a name without the OS and
// architecture, a Windows zip without a program, two archives for one
// platform.
func TestManifestsRefuse(t *testing.T) {
	in := t.TempDir()
	odd, _ := archive(t, in, "keypool.tar.xz")
	noExe, _ := archive(t, in, "keypool-windows-amd64.zip", "README.md")
	a, _ := archive(t, in, "keypool-headless-linux-amd64.tar.xz")
	sub := filepath.Join(in, "other")
	os.Mkdir(sub, 0o755)
	b, _ := archive(t, sub, "keypool-headless-linux-amd64.tar.xz")
	for _, m := range []Manifests{
		{Headless: []string{odd}},
		{Windows: []string{noExe}},
		{Headless: []string{a, b}},
	} {
		m.Version, m.ReleaseURL = "1.0.0", "https://example.test/"
		var log bytes.Buffer
		if err := WriteManifests("../..", t.TempDir(), m, &log); err == nil {
			t.Errorf("WriteManifests(%v) = nil, want an error", m.Headless)
		}
	}
}

// make package-manifests passes the Makefile's variables through: the
// archives and the release URL.
func TestMakeManifests(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make is missing: %v", err)
	}
	in, out := t.TempDir(), t.TempDir()
	linux, sum := archive(t, in, "keypool-headless-linux-amd64.tar.xz")
	cmd := makeCmd(t, "package-manifests", "DESCRIBE=v2.3.4-0-g0123456789ab", "COMMIT=0123456789ab",
		"RELEASE_URL=https://example.test/dl/{{.Version}}/", "MANIFESTS_DIR="+out,
		"HEADLESS_ARCHIVES="+linux+" "+filepath.Join(in, "keypool-headless-darwin-arm64.tar.xz"),
		"MAC_ARCHIVES=", "WINDOWS_ARCHIVES="+filepath.Join(in, "keypool-windows-amd64.zip"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make package-manifests: %v\n%s", err, b)
	}
	formula := read(t, filepath.Join(out, formulaFile))
	if !strings.Contains(formula, `version "2.3.4"`) || !strings.Contains(formula, `url "https://example.test/dl/2.3.4/keypool-headless-linux-amd64.tar.xz"`) ||
		!strings.Contains(formula, `sha256 "`+sum+`"`) {
		t.Errorf("the formula:\n%s\nwant version 2.3.4, the archive's URL and SHA-256", formula)
	}
	if !strings.Contains(string(b), "keypool-windows-amd64.zip does not exist") || !strings.Contains(string(b), "winget manifest: not written") {
		t.Errorf("make package-manifests said:\n%s\nwant the missing Windows zip named, and no winget manifest", b)
	}
}
