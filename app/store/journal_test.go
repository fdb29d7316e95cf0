package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/app/store/disktest"
	"keypool/internal/dirtest"
	"keypool/relay/sched"
)

// crash leaves s as a killed process would: nothing queued is committed,
// the journal's file is simply dropped and the database closed without a
// final drain.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.closeOnce.Do(func() {}) // the test's Close cleanup becomes a no-op
	s.closed.Store(true)
	s.jmu.Lock()
	if s.journal.f != nil {
		_ = s.journal.f.Close()
	}
	s.jmu.Unlock()
	if err := s.db.Close(); err != nil {
		t.Fatalf("close db: %v", err)
	}
}

func segments(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".journal-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func dayRequests(t *testing.T, s *Store, day time.Time) int64 {
	t.Helper()
	totals, err := s.Day(day)
	if err != nil {
		t.Fatalf("Day: %v", err)
	}
	var n int64
	for _, d := range totals {
		n += d.Requests
	}
	return n
}

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

func TestJournalReplaysAfterCrash(t *testing.T) {
	path := dbPath(t)
	clock := newClock(t0)
	s := open(t, path, Options{Now: clock.nowFunc()})
	// No Run: nothing reaches the database before the crash.
	for i := range 50 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Second), []string{"a", "b"}[i%2], "claude-sonnet-4-5", 200, 10, 20))
	}
	exp := t0.Add(time.Hour)
	s.Put("cc:keep", sched.Binding{Account: "a", Expires: exp})
	s.Put("cc:moved", sched.Binding{Account: "a", Expires: exp})
	s.Put("cc:moved", sched.Binding{Account: "b", Expires: exp})
	s.Put("cc:gone", sched.Binding{Account: "a", Expires: exp})
	s.Put("cc:gone", sched.Binding{Account: "a", Expires: t0}) // expired: deletes
	if len(segments(t, path)) == 0 {
		t.Fatal("no journal segment written")
	}
	crash(t, s)

	s2 := open(t, path, Options{Now: clock.nowFunc()})
	if got := len(allRecords(t, s2)); got != 50 {
		t.Errorf("records after replay = %d, want 50", got)
	}
	if got := dayRequests(t, s2, t0); got != 50 {
		t.Errorf("day total after replay = %d requests, want 50", got)
	}
	for sess, want := range map[string]string{"cc:keep": "a", "cc:moved": "b", "cc:gone": ""} {
		b, ok := s2.Get(sess)
		if b.Account != want || ok != (want != "") {
			t.Errorf("binding %s = %q, %v; want %q", sess, b.Account, ok, want)
		}
	}
	if segs := segments(t, path); len(segs) != 0 {
		t.Errorf("journal segments left after replay: %v", segs)
	}
	// New records get keys after the replayed ones.
	s2.Record(rec(t0.Add(time.Minute), "a", "claude-sonnet-4-5", 200, 1, 1))
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, path, Options{Now: clock.nowFunc()})
	if got := len(allRecords(t, s3)); got != 51 {
		t.Errorf("records after a clean restart = %d, want 51", got)
	}
	if segs := segments(t, path); len(segs) != 0 {
		t.Errorf("journal segments left after a clean close: %v", segs)
	}
}

// A crash after the commit but before the segment is removed must not count
// anything twice.
func TestJournalReplaySkipsCommitted(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	startRun(t, s)
	for i := range 10 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Second), "a", "m", 200, 1, 1))
	}
	s.Put("cc:x", sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})
	flush(t, s)
	if len(segments(t, path)) != 1 {
		t.Fatalf("want the current segment still on disk, have %v", segments(t, path))
	}
	crash(t, s)

	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != 10 {
		t.Errorf("records = %d, want 10", got)
	}
	if got := dayRequests(t, s2, t0); got != 10 {
		t.Errorf("day total = %d requests, want 10 (replay counted twice?)", got)
	}
	if b, ok := s2.Get("cc:x"); !ok || b.Account != "a" {
		t.Errorf("binding = %+v, %v", b, ok)
	}
}

func TestJournalDamagedLines(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	for i := range 5 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Second), "a", "m", 200, int64(i), 1))
	}
	crash(t, s)
	segs := segments(t, path)
	if len(segs) != 1 {
		t.Fatalf("segments = %v", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[2][len(lines[2])/2] ^= 1        // a flipped bit: checksum fails
	lines[4] = lines[4][:len(lines[4])/2] // torn last write
	b = bytes.Join(lines, nil)
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs lockedBuffer
	s2 := open(t, path, Options{Logger: textLogger(&logs)})
	got := allRecords(t, s2)
	if len(got) != 3 {
		t.Fatalf("records = %d, want the 3 intact ones", len(got))
	}
	for i, want := range []int64{0, 1, 3} {
		if got[i].Usage.InputTokens != want {
			t.Errorf("record %d has input %d, want %d", i, got[i].Usage.InputTokens, want)
		}
	}
	if !strings.Contains(logs.String(), "damaged lines") || !strings.Contains(logs.String(), "lines=2") {
		t.Errorf("log does not report 2 damaged lines:\n%s", logs.String())
	}
}

func TestJournalRotates(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	s.journal.max = 2048
	startRun(t, s)
	for i := range 200 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, 1, 1))
		if i%20 == 19 {
			flush(t, s)
		}
	}
	flush(t, s)
	s.Record(rec(t0, "a", "m", 200, 1, 1)) // moves past any full segment
	flush(t, s)
	if segs := segments(t, path); len(segs) != 1 {
		t.Errorf("after everything is committed only the current segment should remain, have %d: %v", len(segs), segs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, path); len(segs) != 0 {
		t.Errorf("segments left after Close: %v", segs)
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
			t.Errorf("WriteHealth on a full disk = %+v", h)
		}
		if !strings.Contains(logs.String(), "cannot write to the database") {
			t.Errorf("no clear error logged:\n%s", logs.String())
		}
		if got := len(allRecords(t, s)); got < 200 {
			t.Errorf("reads on a full disk gave %d records, want at least the 200 committed", got)
		}

		fs.Free(t)
		if err := flushErr(s); err != nil {
			t.Fatalf("Flush after freeing space: %v", err)
		}
		if h := s.StoreHealth(); !h.OK() {
			t.Errorf("WriteHealth after recovery = %+v", h)
		}
		if got := len(allRecords(t, s)); got != 3200 {
			t.Errorf("records after recovery = %d, want 3200", got)
		}
		if got := dayRequests(t, s, t0); got != 3200 {
			t.Errorf("day total after recovery = %d, want 3200", got)
		}
		if !strings.Contains(logs.String(), "writes resumed") {
			t.Errorf("recovery not logged:\n%s", logs.String())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkFile(t, filepath.Join(fs.Dir, "keypool.db"))
		s2 := openIn(t, fs.Dir, &logs)
		if b, ok := s2.Get("cc:full"); !ok || b.Account != "b" {
			t.Errorf("binding made on a full disk = %+v, %v", b, ok)
		}
	})
}

// Run retries on its own, without a Flush asking.
func TestDiskFullRetriesByItself(t *testing.T) {
	disktest.Run(t, "4m", func(t *testing.T, fs *disktest.FS) {
		var logs lockedBuffer
		s := openIn(t, fs.Dir, &logs)
		startRun(t, s)
		fs.Fill(t)
		for i := range 2000 {
			s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), "a", "m", 200, 1, 1))
		}
		deadline := time.Now().Add(10 * time.Second)
		for s.StoreHealth().Error == "" {
			if time.Now().After(deadline) {
				t.Fatal("the full disk was never reported")
			}
			time.Sleep(10 * time.Millisecond)
		}
		fs.Free(t)
		for !s.StoreHealth().OK() {
			if time.Now().After(deadline) {
				t.Fatalf("writes did not resume by themselves: %+v", s.StoreHealth())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := len(allRecords(t, s)); got != 2000 {
			t.Errorf("records = %d, want 2000", got)
		}
	})
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
		s.heldMax = 500
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
			t.Errorf("loss not logged:\n%s", logs.String())
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
				t.Fatalf("Open(%s) on a read-only file system succeeded", p)
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

// FuzzJournalLine: any line decodes without panicking, and a line that
// decodes encodes back to one that decodes to the same op.
func FuzzJournalLine(f *testing.F) {
	u := op{kind: opUsage, value: []byte(`{"time":"2025-03-10T12:00:00Z","route":"/v1/messages","status":200}`)}
	copy(u.key[:], "0123456789abcdef")
	for _, o := range []op{u,
		{kind: opBindingPut, session: "cc:6b111a00", value: []byte(`{"account":"a","expires":"2025-03-10T13:00:00Z"}`)},
		{kind: opBindingDrop, session: "fp:x y"},
	} {
		line := encodeLine(nil, &o)
		f.Add(line[:len(line)-1])
	}
	f.Add([]byte("00000000 u 00 {}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		o, err := decodeLine(line)
		if err != nil {
			return
		}
		again := encodeLine(nil, &o)
		o2, err := decodeLine(again[:len(again)-1])
		if err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n%q", err, again)
		}
		if o2.kind != o.kind || o2.key != o.key || o2.session != o.session || !bytes.Equal(o2.value, o.value) {
			t.Fatalf("round trip changed the op:\n%+v\n%+v", o, o2)
		}
	})
}

// A data dir whose path holds glob characters: the journal is still found
// and replayed, and a leftover segment is never truncated.
func TestJournalPathWithGlobCharacters(t *testing.T) {
	path := filepath.Join(dirtest.New(t), "Keypool [work] *?", "keypool.db")
	s := open(t, path, Options{})
	for i := range 5 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Second), "a", "m", 200, 1, 1))
	}
	crash(t, s)
	j := newJournal(path)
	if nums, err := j.segments(); err != nil || len(nums) != 1 {
		t.Fatalf("segments = %v, %v; want one", nums, err)
	}
	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != 5 {
		t.Errorf("records after replay = %d, want 5", got)
	}
}
