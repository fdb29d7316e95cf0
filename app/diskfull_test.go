package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/store"
	"keypool/app/store/disktest"
	"keypool/relay"
	"keypool/relay/relaytest"
)

func health(t *testing.T, r *running) relay.Health {
	t.Helper()
	resp, err := http.Get(r.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h relay.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// startOnDisk runs an app with its config and data dir on fs, its log in
// logs, and serves 20 requests whose records reach the file.
func startOnDisk(t *testing.T, fs *disktest.FS, upstream string, logs *logBuf) (*running, app.Params) {
	t.Helper()
	p := app.Params{ConfigPath: writeConfig(t, fs.Dir, upstream, upstream), DataDir: filepath.Join(fs.Dir, "data"),
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	r := start(t, p)
	postAll(t, r, "before", 20)
	if err := r.Store().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, p
}

// postAll sends n requests in session, each of which must be served.
func postAll(t *testing.T, r *running, session string, n int) {
	t.Helper()
	for i := range n {
		if code, body := r.post(t, session); code != 200 {
			t.Fatalf("request %d (%s): %d %s, want 200", i, session, code, body)
		}
	}
}

// The data dir's disk fills up under a running relay: every request is
// still served, /health, `keypool status` and the log say what is wrong,
// and once space is back every held record lands.
func TestDiskFullKeepsServing(t *testing.T) {
	disktest.Run(t, "8m", func(t *testing.T, fs *disktest.FS) {
		up := relaytest.New()
		defer up.Close()
		var logs logBuf
		r, p := startOnDisk(t, fs, up.URL, &logs)

		fs.Fill(t)
		const during = 2000
		postAll(t, r, "during", during)
		if err := r.Store().Flush(context.Background()); err == nil {
			t.Fatal("Flush on a full disk: err = nil, want an error")
		}
		h := health(t, r)
		if h.Store == nil || !strings.Contains(h.Store.Error, "no space left on device") || h.Store.Held == 0 {
			t.Errorf("/health on a full disk: store = %+v, want the ENOSPC error and held records", h.Store)
		}
		if h.Status != "ok" {
			t.Errorf("/health status = %q, want ok (the accounts are fine)", h.Status)
		}
		var out strings.Builder
		if err := app.Status(context.Background(), p, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "WARNING: cannot save usage (") {
			t.Errorf("status:\n%s\nwant a \"WARNING: cannot save usage (\" line", out.String())
		}
		if !strings.Contains(logs.String(), "cannot write to the database") {
			t.Errorf("log:\n%s\nwant \"cannot write to the database\" in it", logs.String())
		}

		fs.Free(t)
		if err := r.Store().Flush(context.Background()); err != nil {
			t.Fatalf("Flush after freeing space: %v, want nil", err)
		}
		if h := health(t, r); h.Store != nil {
			t.Errorf("/health after recovery: store = %+v, want none", h.Store)
		}
		if got := requestsToday(t, r); got != 20+during {
			t.Errorf("requests recorded = %d, want %d", got, 20+during)
		}
		r.stop()
		if m, _ := filepath.Glob(filepath.Join(p.DataDir, "*.journal-*")); len(m) != 0 {
			t.Errorf("journals after a clean stop: %v, want none", m)
		}
		assertNoSecrets(t, filepath.Join(p.DataDir, "keypool.db"))
	})
}

// A read-only data dir at start is refused with what to do, before
// anything listens.
func TestReadOnlyDataDirAtStart(t *testing.T) {
	disktest.Run(t, "1m", func(t *testing.T, fs *disktest.FS) {
		up := relaytest.New()
		defer up.Close()
		cfg := writeConfig(t, fs.Dir, up.URL, up.URL)
		data := filepath.Join(fs.Dir, "data")
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		fs.SetReadOnly(t, true)
		defer fs.SetReadOnly(t, false)
		_, err := app.Open(app.Params{ConfigPath: cfg, DataDir: data, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			t.Fatal("Open on a read-only data dir: err = nil, want an error")
		}
		t.Logf("error: %v", err)
		if !strings.Contains(err.Error(), "read-only file system") || !strings.Contains(err.Error(), "writable") {
			t.Errorf("err = %v, want it to say the file system is read-only and the dir must be writable", err)
		}
	})
}

// The data dir's file system fails and turns read-only under the running
// relay: requests are still served, the failure is reported, and at stop
// the records that could not be saved anywhere are counted and reported as
// lost, never dropped silently.
func TestDataDirTurnsReadOnly(t *testing.T) {
	disktest.RunExt4(t, "16M", func(t *testing.T, fs *disktest.FS) {
		up := relaytest.New()
		defer up.Close()
		var logs logBuf
		r, p := startOnDisk(t, fs, up.URL, &logs)

		fs.Break(t)
		const during = 200
		postAll(t, r, "during", during)
		if err := r.Store().Flush(context.Background()); err == nil {
			t.Fatal("Flush on a read-only file system: err = nil, want an error")
		}
		h := health(t, r)
		if h.Store == nil || h.Store.Error == "" || h.Store.JournalError == "" {
			t.Errorf("/health on a read-only data dir: store = %+v, want a store and a journal error", h.Store)
		}
		t.Logf("/health store: %+v", h.Store)

		runErr, closeErr := r.halt()
		if runErr == nil && closeErr == nil {
			t.Error("stopping with unsaved records: Run and Close errors nil, want an error")
		}
		want := fmt.Sprintf("usage_records_lost=%d", during)
		if !strings.Contains(logs.String(), "closing with writes that never reached the database") || !strings.Contains(logs.String(), want) {
			t.Errorf("log:\n%s\nwant the loss reported, with %s", logs.String(), want)
		}

		st, err := store.OpenReadOnly(filepath.Join(p.DataDir, "keypool.db"), time.Second)
		if err != nil {
			t.Fatalf("OpenReadOnly of the file written before the failure: %v, want nil", err)
		}
		defer st.Close()
		recs, err := st.Records(time.Time{}, time.Time{}, 0)
		if err != nil || len(recs) != 20 {
			t.Errorf("records saved before the failure: %d, %v; want 20", len(recs), err)
		}
	})
}
