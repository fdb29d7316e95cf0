package store

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"keypool/app/store/journal"
	"keypool/internal/dirtest"
	"keypool/relay/sched"
)

// crash leaves s as a killed process would: nothing queued is committed,
// the journal's file is simply dropped and the database closed without a
// final drain.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.closeOnce.Do(func() {}) // the test's Close cleanup becomes a no-op
	s.w.closed.Store(true)
	s.w.jmu.Lock()
	s.w.journal.Abandon()
	s.w.jmu.Unlock()
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
	if segs := segments(t, path); len(segs) == 0 {
		t.Fatalf("journal segments before the crash = %v, want at least one", segs)
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
		t.Errorf("journal segments after replay = %v, want none", segs)
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
		t.Errorf("journal segments after a clean close = %v, want none", segs)
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
		t.Errorf("Get(cc:x) = %+v, %v; want account a, true", b, ok)
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
		t.Fatalf("segments = %v, want one", segs)
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
		t.Errorf("log = %q, want it to report 2 damaged lines (lines=2)", logs.String())
	}
}

func TestJournalRotates(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	s.w.journal = journal.New(path, 2048) // a new file: nothing to replay
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
		t.Errorf("segments after everything is committed = %v, want only the current one", segs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := segments(t, path); len(segs) != 0 {
		t.Errorf("segments after Close = %v, want none", segs)
	}
}

// A data dir whose path holds glob characters: the journal is still found
// and replayed, and a leftover segment is never truncated.
func TestJournalPathWithGlobCharacters(t *testing.T) {
	name := "Keypool [work] *?"
	if runtime.GOOS == "windows" {
		name = "Keypool [work]" // Windows allows no * or ? in a name
	}
	path := filepath.Join(dirtest.New(t), name, "keypool.db")
	s := open(t, path, Options{})
	for i := range 5 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Second), "a", "m", 200, 1, 1))
	}
	crash(t, s)
	if nums, err := journal.New(path, 0).Segments(); err != nil || len(nums) != 1 {
		t.Fatalf("segments = %v, %v; want one", nums, err)
	}
	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != 5 {
		t.Errorf("records after replay = %d, want 5", got)
	}
}
