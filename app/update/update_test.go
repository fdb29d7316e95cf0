package update

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// feed is a fake release feed on 127.0.0.1: the signed manifest at
// /latest.json and the archives beside it.
type feed struct {
	*httptest.Server
	key      ed25519.PrivateKey
	doc      []byte            // what /latest.json serves
	files    map[string][]byte // the archives, by path
	truncate atomic.Bool       // archives are cut off halfway
}

func newFeed(t *testing.T) *feed {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &feed{key: key, files: map[string][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest.json" {
			w.Write(f.doc)
			return
		}
		b, ok := f.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if f.truncate.Load() {
			// The connection drops halfway through the archive.
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			w.Write(b[:len(b)/2])
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return
		}
		w.Write(b)
	}))
	t.Cleanup(f.Close)
	return f
}

// publish serves release v with an archive holding binary for this
// system, signed with the feed's key.
func (f *feed) publish(t *testing.T, v string, binary []byte) Manifest {
	t.Helper()
	archive := tarGz(t, map[string][]byte{"keypool": binary, "config.example.toml": []byte("# example\n")})
	name := "/keypool-" + v + "-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
	f.files[name] = archive
	sum := sha256.Sum256(archive)
	m := Manifest{Version: v, Notes: f.URL + "/notes/" + v, Expires: tomorrow(), Archives: []Archive{
		{OS: "plan9", Arch: "arm", Flavors: []string{Desktop}, URL: f.URL + "/other.tar.gz", SHA256: strings.Repeat("0", 64)},
		{OS: runtime.GOOS, Arch: runtime.GOARCH, Flavors: []string{Desktop, Headless}, URL: f.URL + name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(archive))},
	}}
	doc, err := Sign(m, f.key)
	if err != nil {
		t.Fatal(err)
	}
	f.doc = doc
	return m
}

func tomorrow() string { return time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339) }

// resign signs the feed's manifest again after change edits it.
func (f *feed) resign(t *testing.T, change func(*Manifest)) {
	t.Helper()
	var s Signed
	json.Unmarshal(f.doc, &s)
	body, _ := base64.StdEncoding.DecodeString(s.Manifest)
	var m Manifest
	json.Unmarshal(body, &m)
	change(&m)
	body, _ = json.Marshal(m)
	f.doc, _ = json.Marshal(Signed{Manifest: base64.StdEncoding.EncodeToString(body), Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(f.key, body))})
}

func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, b := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func (f *feed) checker(current string) Checker {
	return Checker{Feed: f.URL + "/latest.json", Key: f.key.Public().(ed25519.PublicKey), Current: current}
}

func TestLatest(t *testing.T) {
	f := newFeed(t)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name      string
		current   string
		publish   func() // what the feed serves
		wantNewer bool
		wantErr   error
	}{
		{"newer", "1.4.0", func() { f.publish(t, "1.5.0", []byte("new")) }, true, nil},
		{"same", "1.5.0", func() { f.publish(t, "1.5.0", []byte("new")) }, false, nil},
		{"older", "1.6.0", func() { f.publish(t, "1.5.0", []byte("new")) }, false, nil},
		{"dev_build_is_older", "0.0.0-dev+1a2b3c4", func() { f.publish(t, "0.1.0", []byte("new")) }, true, nil},
		{"unsigned_envelope", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			var s Signed
			json.Unmarshal(f.doc, &s)
			s.Signature = ""
			f.doc, _ = json.Marshal(s)
		}, false, ErrUnsigned},
		{"bare_manifest", "1.4.0", func() {
			f.doc, _ = json.Marshal(Manifest{Version: "1.5.0", Expires: tomorrow(), Archives: []Archive{{OS: "linux", Arch: "amd64", Flavors: []string{Desktop}, URL: "https://example.com/k.tar.xz", SHA256: strings.Repeat("a", 64)}}})
		}, false, ErrUnsigned},
		{"wrong_key", "1.4.0", func() {
			doc, err := Sign(Manifest{Version: "9.0.0", Expires: tomorrow(), Archives: []Archive{{OS: "linux", Arch: "amd64", Flavors: []string{Desktop}, URL: "https://example.com/k.tar.xz", SHA256: strings.Repeat("a", 64)}}}, otherKey)
			if err != nil {
				t.Fatal(err)
			}
			f.doc = doc
		}, false, ErrBadSignature},
		{"tampered", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			var s Signed
			json.Unmarshal(f.doc, &s)
			body, _ := base64.StdEncoding.DecodeString(s.Manifest)
			s.Manifest = base64.StdEncoding.EncodeToString(bytes.Replace(body, []byte("1.5.0"), []byte("9.5.0"), 1))
			f.doc, _ = json.Marshal(s)
		}, false, ErrBadSignature},
		{"not_json", "1.4.0", func() { f.doc = []byte("<html>maintenance</html>") }, false, ErrMalformed},
		// An old manifest served again after it expired: the feed cannot
		// be frozen on an old release.
		{"expired", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			f.resign(t, func(m *Manifest) { m.Expires = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) })
		}, false, ErrExpired},
		{"no_expiry", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			f.resign(t, func(m *Manifest) { m.Expires = "" })
		}, false, ErrMalformed},
		// Signed, but an address the OS would open as a file or share.
		{"notes_not_https", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			f.resign(t, func(m *Manifest) { m.Notes = "file:///etc/passwd" })
		}, false, ErrMalformed},
		{"archive_not_https", "1.4.0", func() {
			f.publish(t, "1.5.0", []byte("new"))
			f.resign(t, func(m *Manifest) { m.Archives[1].URL = "http://example.com/k.tar.gz" })
		}, false, ErrMalformed},
		{"signed_but_malformed", "1.4.0", func() {
			body := []byte(`{"version":"soon","archives":[]}`)
			f.doc, _ = json.Marshal(Signed{Manifest: base64.StdEncoding.EncodeToString(body), Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(f.key, body))})
		}, false, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.publish()
			_, newer, err := f.checker(tt.current).Latest(context.Background())
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Fatalf("Latest: err = %v, want %v", err, tt.wantErr)
			}
			if newer != tt.wantNewer {
				t.Errorf("Latest: newer = %v, want %v", newer, tt.wantNewer)
			}
		})
	}
	t.Run("feed_down_secret_unsaid", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		addr := down.Listener.Addr().String()
		down.Close()
		c := f.checker("1.4.0")
		c.Feed = "http://me:pa55word@" + addr + "/latest.json?token=s3cret"
		_, _, err := c.Latest(context.Background())
		if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pa55word") {
			t.Fatalf("Latest with the feed down: %v, want an error without the address's secrets", err)
		}
	})
	t.Run("feed_down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		url := down.URL
		down.Close()
		c := f.checker("1.4.0")
		c.Feed = url + "/latest.json"
		if _, _, err := c.Latest(context.Background()); err == nil {
			t.Fatal("Latest with the feed down: nil error")
		}
	})
}

// copyOfTestBinary is a copy of this test binary: a real executable to
// replace and roll back.
func copyOfTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	name := "keypool"
	if runtime.GOOS == "windows" {
		name += ".exe" // else Windows does not run it
	}
	exe := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestInstallAndRollback(t *testing.T) {
	f := newFeed(t)
	exe := copyOfTestBinary(t)
	old, _ := os.ReadFile(exe)
	newer := []byte("#!/bin/sh\necho keypool 1.5.0\n")
	f.publish(t, "1.5.0", newer)

	m, err := f.checker("1.4.0").Install(context.Background(), exe)
	if err != nil || m.Version != "1.5.0" {
		t.Fatalf("Install: %v, %v; want 1.5.0", m.Version, err)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, newer) {
		t.Fatalf("after Install the executable holds %d bytes, want the release's %d", len(got), len(newer))
	}
	if fi, _ := os.Stat(exe); runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("the new executable's mode is %v, want it executable", fi.Mode())
	}
	if got, _ := os.ReadFile(exe + ".previous"); !bytes.Equal(got, old) {
		t.Error("the previous version was not kept beside it")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), ".keypool.new-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := f.checker("1.5.0").Install(context.Background(), exe); !errors.Is(err, ErrUpToDate) {
		t.Errorf("Install when up to date: %v, want ErrUpToDate", err)
	}

	if err := Rollback(exe); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, old) {
		t.Fatal("after Rollback the executable is not the previous version")
	}
	// The rolled-back binary still runs: it is this test binary.
	if out, err := exec.Command(exe, "-test.run=^$").CombinedOutput(); err != nil {
		t.Errorf("the rolled-back binary does not run: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(exe + ".previous"); !bytes.Equal(got, newer) {
		t.Error("Rollback did not keep the version it replaced (a second rollback could not undo it)")
	}
}

func TestRollbackWithoutPrevious(t *testing.T) {
	exe := copyOfTestBinary(t)
	if err := Rollback(exe); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("Rollback with nothing kept: %v, want ErrNoPrevious", err)
	}
}

// A download that fails its check changes nothing.
func TestInstallRefusesABadDownload(t *testing.T) {
	for _, tt := range []struct {
		name    string
		spoil   func(f *feed, m Manifest)
		wantErr error
	}{
		{"bad_checksum", func(f *feed, m Manifest) {
			a := m.Archives[1]
			f.files[strings.TrimPrefix(a.URL, f.URL)] = tarGz(t, map[string][]byte{"keypool": []byte("evil")})
		}, ErrChecksum},
		{"truncated", func(f *feed, _ Manifest) { f.truncate.Store(true) }, io.ErrUnexpectedEOF},
		{"longer_than_signed", func(f *feed, m Manifest) {
			a := m.Archives[1]
			p := strings.TrimPrefix(a.URL, f.URL)
			f.files[p] = append(f.files[p], "more"...)
		}, ErrTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t)
			exe := copyOfTestBinary(t)
			before, _ := os.ReadFile(exe)
			m := f.publish(t, "1.5.0", []byte("new"))
			tt.spoil(f, m)
			_, err := f.checker("1.4.0").Install(context.Background(), exe)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Install: %v, want an error (%v)", err, tt.wantErr)
			}
			if after, _ := os.ReadFile(exe); !bytes.Equal(after, before) {
				t.Error("the executable changed after a failed update")
			}
			if _, err := os.Stat(exe + ".previous"); !errors.Is(err, os.ErrNotExist) {
				t.Error("a failed update left a .previous behind")
			}
		})
	}
}

func TestManagedBy(t *testing.T) {
	owns := func(owned map[string]string) Owner {
		return func(tool, path string) bool { return owned[tool] == path }
	}
	tests := []struct {
		name, exe string
		owner     Owner
		want      string // the manager's name; "" for none
		command   string // what it says to run, when checked
	}{
		{"deb", "/usr/bin/keypool", owns(map[string]string{"dpkg": "/usr/bin/keypool"}), "apt", ""},
		{"rpm", "/usr/bin/keypool", owns(map[string]string{"rpm": "/usr/bin/keypool"}), "dnf", ""},
		{"homebrew_formula", "/opt/homebrew/Cellar/keypool-headless/1.4.0/bin/keypool", nil, "Homebrew", "brew upgrade keypool-headless"},
		{"linuxbrew", "/home/linuxbrew/.linuxbrew/Cellar/keypool-headless/1.4.0/bin/keypool", nil, "Homebrew", "brew upgrade keypool-headless"},
		{"homebrew_linked", "/opt/homebrew/bin/keypool", nil, "Homebrew", "brew upgrade keypool-headless"},
		{"homebrew_cask", "/opt/homebrew/Caskroom/keypool/1.4.0/Keypool.app/Contents/MacOS/keypool", nil, "Homebrew", "brew upgrade --cask keypool"},
		{"scoop", `C:\Users\me\scoop\apps\keypool\current\keypool.exe`, nil, "Scoop", "scoop update keypool"},
		{"winget", `C:\Users\me\AppData\Local\Microsoft\WinGet\Packages\Keypool.Keypool_x\keypool.exe`, nil, "winget", "winget upgrade Keypool.Keypool"},
		{"by_hand", "/home/me/bin/keypool", owns(nil), "", ""},
		{"built_here", "/home/me/src/keypool/build/keypool", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := ManagedBy(tt.exe, tt.owner)
			if m.Name != tt.want || ok != (tt.want != "") {
				t.Errorf("ManagedBy(%s) = %+v, %v; want %q", tt.exe, m, ok, tt.want)
			}
			if ok && m.Command == "" || tt.command != "" && m.Command != tt.command {
				t.Errorf("ManagedBy(%s) says to run %q, want %q", tt.exe, m.Command, tt.command)
			}
		})
	}
}

func TestSignedRoundTrip(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	m := Manifest{Version: "2.0.0-rc.1", Notes: "https://example.com/n", Expires: tomorrow(), Archives: []Archive{{OS: "linux", Arch: "amd64", Flavors: []string{Desktop}, URL: "https://example.com/a.tar.xz", SHA256: strings.Repeat("b", 64)}}}
	doc, err := Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(doc, pub)
	if err != nil || got.Version != m.Version || !reflect.DeepEqual(got.Archives[0], m.Archives[0]) {
		t.Fatalf("Open(Sign(m)) = %+v, %v; want m", got, err)
	}
	if _, err := Sign(Manifest{Version: "x"}, key); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sign of a malformed manifest: %v, want ErrMalformed", err)
	}
	if len(ReleaseKey) != ed25519.PublicKeySize {
		t.Errorf("the compiled-in release key has %d bytes, want %d", len(ReleaseKey), ed25519.PublicKeySize)
	}
}

// Each build takes its own binary out of an archive: the desktop app's,
// the headless one's beside it, or the only one of a headless archive.
func TestBinaryOfEachFlavor(t *testing.T) {
	both := tarGz(t, map[string][]byte{"keypool": []byte("desktop"), "keypool-headless": []byte("headless")})
	alone := tarGz(t, map[string][]byte{"keypool": []byte("headless alone"), "config.example.toml": []byte("#")})
	for _, tt := range []struct {
		name   string
		data   []byte
		flavor string
		want   string
	}{
		{"desktop", both, Desktop, "desktop"},
		{"headless_beside", both, Headless, "headless"},
		{"headless_alone", alone, Headless, "headless alone"},
	} {
		got, err := Binary("k.tar.gz", tt.data, tt.flavor)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: Binary = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := Binary("k.tar.gz", tarGz(t, map[string][]byte{"README.md": []byte("#")}), Desktop); !errors.Is(err, ErrNoBinary) {
		t.Errorf("an archive without keypool: %v, want ErrNoBinary", err)
	}
}
