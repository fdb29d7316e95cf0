package app_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/store"
	"keypool/app/update"
	"keypool/internal/dirtest"
)

// releaseFeed is a release feed on 127.0.0.1 that counts every connection
// made to it.
type releaseFeed struct {
	*httptest.Server
	key   ed25519.PrivateKey
	doc   atomic.Pointer[[]byte]
	conns atomic.Int64
	// gate, when set, holds each answer until it is closed; asked is
	// told of each request as it arrives.
	gate  atomic.Pointer[chan struct{}]
	asked chan struct{}
}

func newReleaseFeed(t *testing.T) *releaseFeed {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	f := &releaseFeed{key: key, asked: make(chan struct{}, 16)}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.asked <- struct{}{}:
		default:
		}
		if g := f.gate.Load(); g != nil {
			<-*g
		}
		if d := f.doc.Load(); d != nil {
			w.Write(*d)
		}
	}))
	f.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// serve publishes release v, signed with key (the feed's when nil).
func (f *releaseFeed) serve(t *testing.T, v string, key ed25519.PrivateKey) {
	t.Helper()
	if key == nil {
		key = f.key
	}
	doc, err := update.Sign(update.Manifest{Version: v, Notes: "https://example.com/notes/" + v, Expires: time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		Archives: []update.Archive{{OS: "linux", Arch: "amd64", Flavors: []string{update.Desktop}, URL: "https://example.com/k.tar.xz", SHA256: strings.Repeat("c", 64)}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	f.doc.Store(&doc)
}

// The update check reads the feed only once the user turned it on, then at
// most once a day, and believes only a newer release signed with the
// release key.
func TestUpdateCheck(t *testing.T) {
	f := newReleaseFeed(t)
	f.serve(t, "9.9.9", nil)
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("api_keys = [\"k\"]\n[updates]\nurl = %q\n", f.URL+"/latest.json")), 0o600)
	p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, "data"), ReleaseKey: f.key.Public().(ed25519.PublicKey)}
	var logs logBuf

	// Off until asked: no connection at all, asked or not.
	r := startStore(t, p, &logs)
	if on, asked := r.UpdateCheck(); on || asked {
		t.Fatalf("UpdateCheck on a new data dir = %v, %v; want off, not asked", on, asked)
	}
	if err := r.SetUpdateCheck(false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // what a check would take, many times over
	if n := f.conns.Load(); n != 0 {
		t.Fatalf("%d connections to the feed with the check off, want none", n)
	}
	if _, asked := r.UpdateCheck(); !asked {
		t.Error("after an answer of no, UpdateCheck says the user was not asked")
	}

	// On: the feed is read at once, and the newer release shows.
	if err := r.SetUpdateCheck(true); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { _, ok := r.UpdateAvailable(); return ok }) {
		t.Fatalf("no newer release after turning the check on (feed connections %d); log:\n%s", f.conns.Load(), logs.String())
	}
	if rel, _ := r.UpdateAvailable(); rel.Version != "9.9.9" || rel.Notes != "https://example.com/notes/9.9.9" {
		t.Errorf("UpdateAvailable = %+v, want 9.9.9 with its notes", rel)
	}
	if u := r.Health().Update; u == nil || u.Version != "9.9.9" {
		t.Errorf("/health update = %+v, want 9.9.9", u)
	}
	if !strings.Contains(app.UpdateText(app.Release{Version: "9.9.9", Notes: "n"}), "Keypool 9.9.9 is available") {
		t.Error("UpdateText does not say which version is available")
	}
	r.stop()

	// Within a day of that check, a restart reads nothing.
	seen := f.conns.Load()
	r = startStore(t, p, &logs)
	time.Sleep(300 * time.Millisecond)
	if n := f.conns.Load(); n != seen {
		t.Errorf("%d more connections to the feed after a restart within a day, want none", n-seen)
	}
	if _, ok := r.UpdateAvailable(); !ok {
		t.Error("the release found before the restart is forgotten")
	}
	r.stop()

	// A day later: what the feed serves now is believed only when it is
	// signed with the release key and newer than this build and than the
	// release found before; anything else changes nothing but one line
	// in the log.
	_, otherKey, _ := ed25519.GenerateKey(nil)
	for _, tt := range []struct {
		name    string
		serve   func()
		want    string // the release known after the check
		logLine string
	}{
		{"wrong_key", func() { f.serve(t, "10.0.0", otherKey) }, "9.9.9", "nothing believed"},
		{"unsigned", func() { d := []byte(`{"version":"10.0.0"}`); f.doc.Store(&d) }, "9.9.9", "nothing believed"},
		{"empty_answer", func() { d := []byte{}; f.doc.Store(&d) }, "9.9.9", "nothing believed"},
		// An old manifest served again hides no release found before.
		{"same", func() { f.serve(t, app.Version().Version, nil) }, "9.9.9", "not newer than this one"},
		{"older", func() { f.serve(t, "0.0.0-alpha", nil) }, "9.9.9", "not newer than this one"},
		{"newer", func() { f.serve(t, "10.0.0", nil) }, "10.0.0", "a newer Keypool is out"},
		{"older_than_found", func() { f.serve(t, "9.9.9", nil) }, "10.0.0", "older than one found before"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.serve()
			// The last check was over a day ago.
			if err := setSetting(dir, "updates_checked_at", time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339)); err != nil {
				t.Fatal(err)
			}
			var logs logBuf
			seen := f.conns.Load()
			r := startStore(t, p, &logs)
			if !waitFor(5*time.Second, func() bool { return strings.Contains(logs.String(), tt.logLine) }) {
				t.Fatalf("no %q in the log after a check (feed connections %d):\n%s", tt.logLine, f.conns.Load()-seen, logs.String())
			}
			if rel, _ := r.UpdateAvailable(); rel.Version != tt.want {
				t.Errorf("UpdateAvailable = %q, want %q", rel.Version, tt.want)
			}
			if n := strings.Count(logs.String(), "update check"); n != 1 {
				t.Errorf("%d log lines about the check, want 1:\n%s", n, logs.String())
			}
			r.stop()
		})
	}

	// Turned off while a check waits for the feed's answer: what was
	// found is forgotten, and what the check then reads is not kept.
	if err := setSetting(dir, "updates_checked_at", time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	f.serve(t, "10.0.1", nil)
	gate := make(chan struct{})
	f.gate.Store(&gate)
	for len(f.asked) > 0 {
		<-f.asked
	}
	var offLogs logBuf
	r = startStore(t, p, &offLogs)
	select {
	case <-f.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("no check of the feed a day after the last")
	}
	if err := r.SetUpdateCheck(false); err != nil {
		t.Fatal(err)
	}
	close(gate)
	time.Sleep(300 * time.Millisecond) // the check reads the answer, and keeps it or not
	if rel, ok := r.UpdateAvailable(); ok {
		t.Errorf("UpdateAvailable = %q after the check was turned off mid-check, want none", rel.Version)
	}
	if strings.Contains(offLogs.String(), "a newer Keypool is out") {
		t.Errorf("the check turned off mid-way still reported a release:\n%s", offLogs.String())
	}
	r.stop()

	// A release found before whose manifest has since expired is no
	// longer shown: the feed stopped vouching for it.
	expired := fmt.Sprintf(`{"version":"99.0.0","notes":"https://example.com/n","expires":%q}`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if err := setSetting(dir, "update_available", expired); err != nil {
		t.Fatal(err)
	}
	r = startStore(t, p, &logs)
	defer r.stop()
	if rel, ok := r.UpdateAvailable(); ok {
		t.Errorf("UpdateAvailable = %q from an expired manifest, want none", rel.Version)
	}
}

// setSetting changes a setting in a data dir's store while no app runs.
func setSetting(dir, key, value string) error {
	st, err := store.Open(filepath.Join(dir, "data", "keypool.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	return st.PutSetting(key, value)
}

// keypool update leaves a Keypool a package manager installed alone, and
// says which command updates it.
func TestInstallUpdateDefersToThePackageManager(t *testing.T) {
	dir := dirtest.New(t)
	exe := filepath.Join(dir, "Cellar", "keypool-headless", "1.0.0", "bin", "keypool")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, []byte("the installed keypool"), 0o755)
	for _, rollback := range []bool{false, true} {
		_, err := app.InstallUpdate(t.Context(), app.Params{DataDir: dir}, exe, rollback, nil)
		if err == nil || !strings.Contains(err.Error(), "brew upgrade keypool-headless") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("InstallUpdate (rollback %v) of a Homebrew keypool: %v, want it to name brew upgrade keypool-headless and change nothing", rollback, err)
		}
	}
	if b, _ := os.ReadFile(exe); string(b) != "the installed keypool" {
		t.Error("the package manager's binary was changed")
	}
	if _, err := os.Stat(exe + ".previous"); !os.IsNotExist(err) {
		t.Error("a .previous appeared beside the package manager's binary")
	}
	// Installed by hand, with nothing to roll back to.
	mine := filepath.Join(dir, "keypool")
	os.WriteFile(mine, []byte("mine"), 0o755)
	if _, err := app.InstallUpdate(t.Context(), app.Params{DataDir: dir}, mine, true, nil); !errors.Is(err, update.ErrNoPrevious) {
		t.Errorf("--rollback with no previous version: %v, want update.ErrNoPrevious", err)
	}
}
