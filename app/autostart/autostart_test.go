package autostart

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

var entry = Entry{Exe: "/opt/Key Pool/keypool", Args: []string{"--hidden"}}

// On Linux, for real in a temporary config dir; the entry passes
// desktop-file-validate (desktop-file-utils, installed by make test).
func TestXDGAutostart(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG autostart is for Linux and the BSDs")
	}
	dir := dirtest.New(t)
	if on, err := Enabled(dir); on {
		t.Fatalf("Enabled before Enable = true, %v; want false", err)
	}
	if err := Enable(dir, entry); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(dir); !on || err != nil {
		t.Fatalf("Enabled after Enable = %v, %v; want true, nil", on, err)
	}
	path := filepath.Join(dir, "autostart", "keypool.desktop")
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `Exec="/opt/Key Pool/keypool" --hidden`) {
		t.Errorf("entry:\n%s\nwant Exec=\"/opt/Key Pool/keypool\" --hidden", b)
	}
	if v, err := exec.LookPath("desktop-file-validate"); err == nil {
		if out, err := exec.Command(v, path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("desktop-file-validate: %v %s, want no complaint", err, out)
		}
	} else if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" { // under make test
		t.Fatal("desktop-file-validate is missing (desktop-file-utils)")
	}
	if err := Enable(dir, entry); err != nil { // twice changes nothing
		t.Fatal(err)
	}
	if err := Disable(dir); err != nil {
		t.Fatal(err)
	}
	if err := Disable(dir); err != nil {
		t.Errorf("second Disable = %v, want nil", err)
	}
	if on, err := Enabled(dir); on {
		t.Errorf("Enabled after Disable = true, %v; want false", err)
	}
}

// The macOS and Windows contents, checked here (their packages are
// compiled by go vet with GOOS=darwin and GOOS=windows in make test).
func TestOtherSystemsContent(t *testing.T) {
	p := Plist(Entry{Exe: "/Applications/Keypool.app/Contents/MacOS/keypool", Args: []string{"--hidden", "a&b"}})
	var doc struct {
		Dict struct {
			Keys    []string `xml:"key"`
			Strings []string `xml:"string"`
			Array   struct {
				Strings []string `xml:"string"`
			} `xml:"array"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal([]byte(p), &doc); err != nil {
		t.Fatalf("plist: %v, want XML:\n%s", err, p)
	}
	if got := doc.Dict.Array.Strings; len(got) != 3 || got[0] != "/Applications/Keypool.app/Contents/MacOS/keypool" || got[2] != "a&b" {
		t.Errorf("ProgramArguments = %q, want the executable, --hidden, a&b", got)
	}
	if len(doc.Dict.Strings) == 0 || doc.Dict.Strings[0] != ID || !strings.Contains(p, "<key>RunAtLoad</key>") {
		t.Errorf("plist:\n%s\nwant Label %s first and RunAtLoad", p, ID)
	}
	const wantRun = `"C:\Program Files\Keypool\keypool.exe" --hidden`
	if got := RunValue(Entry{Exe: `C:\Program Files\Keypool\keypool.exe`, Args: []string{"--hidden"}}); got != wantRun {
		t.Errorf("RunValue = %q, want %q", got, wantRun)
	}
}
