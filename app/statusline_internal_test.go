package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keypool/internal/dirtest"
	"keypool/relay"
)

// The status line runs the headless build when it sits beside the desktop
// binary (it starts faster), and the binary itself otherwise.
func TestStatusLineRunsHeadlessBeside(t *testing.T) {
	dir := dirtest.New(t)
	exe := filepath.Join(dir, "keypool")
	write := func(p string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(exe, 0o755)
	if got := headlessBeside(exe); got != exe {
		t.Errorf("alone: %q, want the binary itself", got)
	}
	headless := filepath.Join(dir, "keypool-headless")
	write(headless, 0o644)
	if got := headlessBeside(exe); got != exe {
		t.Errorf("beside a headless build that cannot run: %q, want the binary itself", got)
	}
	write(headless, 0o755)
	if got := headlessBeside(exe); got != headless {
		t.Errorf("beside a headless build: %q, want %q", got, headless)
	}
	if got := headlessBeside(headless); got != headless {
		t.Errorf("the headless build itself: %q", got)
	}
}

// A relay whose control socket answers too slowly is busy, not gone.
func TestStatusLineBusyRelay(t *testing.T) {
	dir := dirtest.New(t)
	sock := filepath.Join(dir, "control.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stop := make(chan struct{})
	defer close(stop)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // slower than statusLineWait
		case <-stop:
		case <-time.After(10 * statusLineWait):
		}
	})}
	go srv.Serve(l)
	defer srv.Close()
	_, err = askSession(context.Background(), sock, "s")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("askSession of a slow relay: %v, want the deadline", err)
	}
	if _, err := askSession(context.Background(), filepath.Join(dir, "none.sock"), "s"); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("askSession with no socket: %v, want a failure that is not the deadline", err)
	}
}

// A conversation served under a profile says so in the status line.
func TestStatusTextNamesTheProfile(t *testing.T) {
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	v := relay.SessionView{Account: "w1", Name: "Work", State: "ready", Profile: "work", Runway: relay.PoolRunway{Text: "lasts at this pace"}}
	if got, want := statusText(v, now, time.UTC), "Keypool: Work [work] · runway: lasts at this pace"; got != want {
		t.Errorf("status line = %q, want %q", got, want)
	}
}
