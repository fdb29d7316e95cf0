package store

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/app/store/disktest"
	"keypool/relay/sched"
)

// checkFile runs bbolt's consistency check over the whole file.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("reopen %s for check: %v", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
}

// openIn opens the store at dir/keypool.db with a log the test can read.
func openIn(t *testing.T, dir string, logs *lockedBuffer) *Store {
	t.Helper()
	return open(t, filepath.Join(dir, "keypool.db"), Options{Logger: textLogger(logs)})
}

func flushErr(s *Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Flush(ctx)
}

// On a full disk, writes are held in memory, the reason is reported, reads
// keep working, and everything lands once there is space again.
func TestDiskFullHoldsAndResumes(t *testing.T) {
	disktest.Run(t, "2m", func(t *testing.T, fs *disktest.FS) {
		var logs lockedBuffer
		s := openIn(t, fs.Dir, &logs)
		startRun(t, s)
		for i := range 200 {
			s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, 1, 1))
		}
		flush(t, s)

		fs.Fill(t)
		for i := range 3000 {
			s.Record(rec(t0.Add(time.Second+time.Duration(i)*time.Millisecond), "b", "m", 200, 1, 1))
		}
		s.Put("cc:full", sched.Binding{Account: "b", Expires: time.Now().Add(time.Hour)})
		err := flushErr(s)
		if !errors.Is(err, ErrHeld) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Flush on a full disk = %v, want ErrHeld wrapping ENOSPC", err)
		}
		h := s.StoreHealth()
		if !strings.Contains(h.Error, "no space left on device") || h.Held == 0 || h.Since.IsZero() || h.Lost != 0 {
			t.Errorf("WriteHealth on a full disk = %+v, want ENOSPC as the error, writes held, a start time and nothing lost", h)
		}
		if !strings.Contains(logs.String(), "cannot write to the database") {
			t.Errorf("log = %q, want \"cannot write to the database\" in it", logs.String())
		}
		if got := len(allRecords(t, s)); got < 200 {
			t.Errorf("reads on a full disk gave %d records, want at least the 200 committed", got)
		}

		fs.Free(t)
		if err := flushErr(s); err != nil {
			t.Fatalf("Flush after freeing space: %v", err)
		}
		if h := s.StoreHealth(); !h.OK() {
			t.Errorf("WriteHealth after recovery = %+v, want OK", h)
		}
		if got := len(allRecords(t, s)); got != 3200 {
			t.Errorf("records after recovery = %d, want 3200", got)
		}
		if got := dayRequests(t, s, t0); got != 3200 {
			t.Errorf("day total after recovery = %d, want 3200", got)
		}
		if !strings.Contains(logs.String(), "writes resumed") {
			t.Errorf("log = %q, want \"writes resumed\" in it", logs.String())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, filepath.Join(fs.Dir, "keypool.db"))
		s2 := openIn(t, fs.Dir, &logs)
		if b, ok := s2.Get("cc:full"); !ok || b.Account != "b" {
			t.Errorf("Get(cc:full), made on a full disk, = %+v, %v; want account b, true", b, ok)
		}
	})
}

// Run retries on its own, without a Flush asking. In a synctest bubble the
// writer's linger and retry timers run on a fake clock, so the test knows
// when the writer has tried, and waits its backoff out at once.
func TestDiskFullRetriesByItself(t *testing.T) {
	disktest.Run(t, "4m", func(t *testing.T, fs *disktest.FS) {
		synctest.Test(t, func(t *testing.T) {
			var logs lockedBuffer
			s := openIn(t, fs.Dir, &logs)
			startRun(t, s)
			fs.Fill(t)
			for i := range 2000 {
				s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, 1, 1))
			}
			advance(batchWait) // the writer has taken every record and failed
			if h := s.StoreHealth(); h.Error == "" {
				t.Fatalf("StoreHealth on a full disk = %+v, want the error reported", h)
			}
			fs.Free(t)
			advance(maxRetry) // past the longest backoff, with no Flush
			if h := s.StoreHealth(); !h.OK() {
				t.Fatalf("StoreHealth after freeing space = %+v, want OK: writes did not resume by themselves", h)
			}
			if got := len(allRecords(t, s)); got != 2000 {
				t.Errorf("records = %d, want 2000", got)
			}
		})
	})
}

// advance moves a synctest bubble's clock on by d, firing every timer due
// by then, and returns once every other goroutine in the bubble is blocked
// again.
func advance(d time.Duration) {
	time.Sleep(d) // the bubble's fake clock: returns at once
	synctest.Wait()
}

// A full disk at start: a file that has everything opens without writing.
func TestDiskFullAtStart(t *testing.T) {
	disktest.Run(t, "4m", func(t *testing.T, fs *disktest.FS) {
		var logs lockedBuffer
		s := openIn(t, fs.Dir, &logs)
		s.Record(rec(t0, "a", "m", 200, 1, 1))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		fs.Fill(t)
		s2 := openIn(t, fs.Dir, &logs)
		startRun(t, s2)
		for i := range 2000 {
			s2.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, 1, 1))
		}
		if err := flushErr(s2); !errors.Is(err, ErrHeld) {
			t.Fatalf("Flush = %v, want ErrHeld", err)
		}
		fs.Free(t)
		if err := flushErr(s2); err != nil {
			t.Fatalf("Flush after freeing space: %v", err)
		}
		if got := len(allRecords(t, s2)); got != 2001 {
			t.Errorf("records = %d, want 2001", got)
		}
	})
}

// Holding is bounded: past the limit the oldest records are given up,
// counted and reported, never silently.
func TestDiskFullTooLong(t *testing.T) {
	disktest.Run(t, "4m", func(t *testing.T, fs *disktest.FS) {
		var logs lockedBuffer
		s := openIn(t, fs.Dir, &logs)
		s.w.heldMax = 500
		startRun(t, s)
		fs.Fill(t)
		for i := range 2000 {
			s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, int64(i), 1))
		}
		err := flushErr(s)
		if !errors.Is(err, ErrLost) || !errors.Is(err, ErrHeld) {
			t.Fatalf("Flush = %v, want ErrLost and ErrHeld", err)
		}
		h := s.StoreHealth()
		if h.Lost != 1500 || h.Held != 500 {
			t.Errorf("WriteHealth = %+v, want 1500 lost and 500 held", h)
		}
		if !strings.Contains(logs.String(), "usage records lost") {
			t.Errorf("log = %q, want \"usage records lost\" in it", logs.String())
		}
		fs.Free(t)
		if err := flushErr(s); err != nil {
			t.Fatalf("Flush after freeing space: %v", err)
		}
		got := allRecords(t, s)
		if len(got) != 500 || got[0].Usage.InputTokens != 1500 {
			t.Errorf("kept %d records starting at %d, want the newest 500", len(got), got[0].Usage.InputTokens)
		}
	})
}

func TestReadOnlyDataDir(t *testing.T) {
	disktest.Run(t, "1m", func(t *testing.T, fs *disktest.FS) {
		path := filepath.Join(fs.Dir, "keypool.db")
		s, err := Open(path, Options{Logger: textLogger(&lockedBuffer{})})
		if err != nil {
			t.Fatal(err)
		}
		s.Record(rec(t0, "a", "m", 200, 1, 1))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		fs.SetReadOnly(t, true)
		defer fs.SetReadOnly(t, false)

		for _, p := range []string{path, filepath.Join(fs.Dir, "new", "keypool.db")} {
			_, err := Open(p, Options{})
			if err == nil {
				t.Fatalf("Open(%s) on a read-only file system: err = nil, want EROFS", p)
			}
			if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "make it writable") {
				t.Errorf("Open(%s) = %v; want EROFS and what to do", p, err)
			}
		}
		// status still reads it
		ro, err := OpenReadOnly(path, time.Second)
		if err != nil {
			t.Fatalf("OpenReadOnly: %v", err)
		}
		defer ro.Close()
		if got := len(allRecords(t, ro)); got != 1 {
			t.Errorf("records = %d, want 1", got)
		}
	})
}

// textLogger logs everything to b, for tests that check what was said.
func textLogger(b *lockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
