package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"keypool/internal/dirtest"
	"keypool/relay/record"
	"keypool/relay/sched"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is a fixed instant the tests build times from.
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// fixedClock is an injectable clock the test can move.
type fixedClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fixedClock {
	c := &fixedClock{}
	c.set(t)
	return c
}
func (c *fixedClock) set(t time.Time)           { c.ns.Store(t.UnixNano()) }
func (c *fixedClock) add(d time.Duration)       { c.ns.Add(int64(d)) }
func (c *fixedClock) now() time.Time            { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fixedClock) nowFunc() func() time.Time { return c.now }

// verifyNoLeaks checks for leaked goroutines after every other cleanup of
// the test (stopping Run, closing stores) has run.
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// waitRunning waits until a Run loop owns s's queue.
func waitRunning(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.w.writeMu.Lock()
		running := s.w.running
		s.w.writeMu.Unlock()
		if running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("Run not running after 10s, want it running")
		}
		runtime.Gosched()
	}
}

func dbPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(dirtest.New(t), "data", "keypool.db")
}

// open opens path and closes the store when the test ends.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// startRun runs s.Run in a goroutine and returns a stop func that cancels it
// and returns Run's error. The test also stops it at cleanup.
func startRun(t *testing.T, s *Store) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-errc
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func flush(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func allRecords(t *testing.T, s *Store) []record.UsageRecord {
	t.Helper()
	recs, err := s.Records(time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return recs
}

func rec(at time.Time, account, model string, status int, in, out int64) record.UsageRecord {
	return record.UsageRecord{
		Time: at, Route: "/v1/messages", ClientID: "cli", Account: account, Model: model,
		Status: status, Usage: record.Usage{InputTokens: in, OutputTokens: out, CacheReadTokens: in / 2},
		TTFB: 100 * time.Millisecond, Duration: time.Second,
	}
}

func TestOpenCreatesFileAndBuckets(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	if got := s.Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("mode of %s = %v, want %v", p, got, want)
			}
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s = nil, want it created at Open", name)
			}
		}
		if got := tx.Bucket(bucketMeta).Get(keySchema); string(got) != "1" {
			t.Errorf("meta/schema = %q, want \"1\"", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file from before client keys and settings had buckets: a read-only open
// reads them as empty, and Open adds the missing buckets.
func TestOpenAddsLaterBuckets(t *testing.T) {
	path := dbPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketBindings, bucketUsage, bucketDaily, bucketAccounts} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, schemaVersion)
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ro.Setting("strategy"); v != "" || err != nil {
		t.Errorf("read-only Setting = %q, %v; want \"\", nil", v, err)
	}
	if keys, err := ro.ClientKeys(); len(keys) != 0 || err != nil {
		t.Errorf("read-only ClientKeys = %v, %v; want none, nil", keys, err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path, Options{})
	if err := s.PutSetting("strategy", "spread"); err != nil {
		t.Fatalf("PutSetting = %v, want nil", err)
	}
	if err := s.PutClientKey(ClientKey{ID: "k1", Label: "cli"}); err != nil {
		t.Fatalf("PutClientKey = %v, want nil", err)
	}
	if v, err := s.Setting("strategy"); v != "spread" || err != nil {
		t.Errorf("Setting = %q, %v; want \"spread\", nil", v, err)
	}
	if keys, err := s.ClientKeys(); len(keys) != 1 || keys[0].ID != "k1" || err != nil {
		t.Errorf("ClientKeys = %+v, %v; want k1 alone", keys, err)
	}
	if err := s.DeleteClientKey("k1"); err != nil {
		t.Errorf("DeleteClientKey = %v, want nil", err)
	}
}

func TestRecordsAndDay(t *testing.T) {
	verifyNoLeaks(t)
	s := open(t, dbPath(t), Options{})
	startRun(t, s)

	// +02:00: 23:30 UTC on the 10th is 01:30 on the 11th there.
	zone := time.FixedZone("EET", 2*3600)
	day1 := time.Date(2025, 3, 10, 9, 0, 0, 0, zone)
	day2 := time.Date(2025, 3, 11, 9, 0, 0, 0, zone)
	in := []record.UsageRecord{
		rec(day1, "acct-b", "opus", 200, 10, 20),
		rec(day1.Add(time.Minute), "acct-a", "opus", 200, 1, 2),
		rec(day1.Add(2*time.Minute), "acct-a", "sonnet", 529, 3, 0),
		rec(day1.Add(3*time.Minute), "acct-a", "opus", 200, 5, 6),
		rec(day1.Add(4*time.Minute), "acct-a", "opus", 0, 0, 0), // no response: an error
		rec(time.Date(2025, 3, 10, 23, 30, 0, 0, time.UTC).In(zone), "acct-b", "sonnet", 429, 7, 0),
		rec(day2.Add(time.Minute), "acct-b", "sonnet", 200, 100, 200),
		rec(day2.Add(2*time.Minute), "acct-a", "opus", 200, 1000, 2000),
	}
	for _, r := range in {
		s.Record(r)
	}
	flush(t, s)

	got := allRecords(t, s)
	if len(got) != len(in) {
		t.Fatalf("Records returned %d, want %d", len(got), len(in))
	}
	for i := range got {
		if !got[i].Time.Equal(in[i].Time) || got[i].Account != in[i].Account || got[i].Usage != in[i].Usage {
			t.Errorf("record %d = %+v, want %+v", i, got[i], in[i])
		}
	}

	ms := func(n int) time.Duration { return time.Duration(n) * 100 * time.Millisecond }
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	tests := []struct {
		name string
		day  time.Time
		want []DayTotal
	}{
		{
			name: "day1",
			day:  day1,
			want: []DayTotal{
				{Day: "2025-03-10", Account: "acct-a", Model: "opus", Counts: record.Counts{Requests: 3, Errors: 1, Connection: 1},
					Usage: record.Usage{InputTokens: 6, OutputTokens: 8, CacheReadTokens: 0 + 2 + 0}, TTFBTotal: ms(3), DurationTotal: sec(3)},
				{Day: "2025-03-10", Account: "acct-a", Model: "sonnet", Counts: record.Counts{Requests: 1, Errors: 1, Server: 1},
					Usage: record.Usage{InputTokens: 3, CacheReadTokens: 1}, TTFBTotal: ms(1), DurationTotal: sec(1)},
				{Day: "2025-03-10", Account: "acct-b", Model: "opus", Counts: record.Counts{Requests: 1},
					Usage: record.Usage{InputTokens: 10, OutputTokens: 20, CacheReadTokens: 5}, TTFBTotal: ms(1), DurationTotal: sec(1)},
			},
		},
		{
			name: "day2_in_record_zone",
			day:  day2,
			want: []DayTotal{
				{Day: "2025-03-11", Account: "acct-a", Model: "opus", Counts: record.Counts{Requests: 1},
					Usage: record.Usage{InputTokens: 1000, OutputTokens: 2000, CacheReadTokens: 500}, TTFBTotal: ms(1), DurationTotal: sec(1)},
				{Day: "2025-03-11", Account: "acct-b", Model: "sonnet", Counts: record.Counts{Requests: 2, Errors: 1, RateLimited: 1},
					Usage: record.Usage{InputTokens: 107, OutputTokens: 200, CacheReadTokens: 3 + 50}, TTFBTotal: ms(2), DurationTotal: sec(2)},
			},
		},
		{name: "empty_day", day: day2.AddDate(0, 0, 1), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Day(tt.day)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Day: got %d totals %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Day[%d]:\n got  %+v\n want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRecordsRange(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	for i := range 10 {
		s.Record(rec(t0.Add(time.Duration(i)*time.Minute), "a", "m", 200, int64(i), 0))
	}
	s.Record(rec(t0.Add(3*time.Minute), "a", "m", 200, 33, 0)) // same instant as #3, later sequence
	flush(t, s)

	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name         string
		since, until time.Time
		limit        int
		want         []int64 // InputTokens in order
	}{
		{"all", time.Time{}, time.Time{}, 0, []int64{0, 1, 2, 3, 33, 4, 5, 6, 7, 8, 9}},
		{"half_open", at(2), at(5), 0, []int64{2, 3, 33, 4}},
		{"since_only", at(8), time.Time{}, 0, []int64{8, 9}},
		{"until_only", time.Time{}, at(2), 0, []int64{0, 1}},
		{"limit", at(3), time.Time{}, 3, []int64{3, 33, 4}},
		{"between_records", at(2).Add(time.Second), at(3), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Records(tt.since, tt.until, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range recs {
				got = append(got, r.Usage.InputTokens)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecordStampsZeroTime(t *testing.T) {
	clk := newClock(t0)
	s := open(t, dbPath(t), Options{Now: clk.nowFunc()})
	s.Record(record.UsageRecord{Account: "a", Status: 200})
	flush(t, s)
	got := allRecords(t, s)
	if len(got) != 1 || !got[0].Time.Equal(t0) {
		t.Fatalf("records = %+v, want one at %v", got, t0)
	}
}

func TestBindingsSurviveReopen(t *testing.T) {
	for _, withRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("run=%v", withRun), func(t *testing.T) {
			verifyNoLeaks(t)
			path := dbPath(t)
			clk := newClock(t0)
			opts := Options{Now: clk.nowFunc(), Logger: slog.New(slog.DiscardHandler)}

			s, err := Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			var stop func() error
			if withRun {
				stop = startRun(t, s)
			}
			s.Put("long", sched.Binding{Account: "a", Expires: t0.Add(time.Hour)})
			s.Put("short", sched.Binding{Account: "b", Expires: t0.Add(time.Minute)})
			s.Put("past", sched.Binding{Account: "c", Expires: t0.Add(-time.Second)})
			s.Put("moved", sched.Binding{Account: "a", Expires: t0.Add(time.Hour)})
			s.Put("moved", sched.Binding{Account: "d", Expires: t0.Add(2 * time.Hour)})
			s.Put("dropped", sched.Binding{Account: "a", Expires: t0.Add(time.Hour)})
			s.Put("dropped", sched.Binding{Account: "a", Expires: t0}) // expired now: deletes

			if b, ok := s.Get("short"); !ok || b.Account != "b" {
				t.Errorf("before close: Get(short) = %+v, %v; want account b", b, ok)
			}
			if withRun {
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}

			clk.add(10 * time.Minute) // "short" has expired by now
			s2 := open(t, path, opts)
			want := map[string]sched.Binding{
				"long":    {Account: "a", Expires: t0.Add(time.Hour)},
				"short":   {},
				"past":    {},
				"moved":   {Account: "d", Expires: t0.Add(2 * time.Hour)},
				"dropped": {},
			}
			for session, w := range want {
				b, ok := s2.Get(session)
				if ok != (w.Account != "") || b.Account != w.Account || !b.Expires.Equal(w.Expires) {
					t.Errorf("after reopen: Get(%q) = %+v, %v; want %+v", session, b, ok, w)
				}
			}
			// Open deleted the expired one from the file too.
			var keys []string
			_ = s2.db.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketBindings).ForEach(func(k, _ []byte) error {
					keys = append(keys, string(k))
					return nil
				})
			})
			if fmt.Sprint(keys) != "[long moved]" {
				t.Errorf("bindings bucket keys = %v, want [long moved]", keys)
			}
		})
	}
}

func TestGetHidesExpired(t *testing.T) {
	clk := newClock(t0)
	s := open(t, dbPath(t), Options{Now: clk.nowFunc()})
	s.Put("s", sched.Binding{Account: "a", Expires: t0.Add(time.Minute)})
	if _, ok := s.Get("s"); !ok {
		t.Fatal("Get before expiry: not found, want the binding")
	}
	clk.add(time.Minute)
	if b, ok := s.Get("s"); ok {
		t.Fatalf("Get at expiry = %+v, want not found", b)
	}
}

func TestOpenLocked(t *testing.T) {
	path := dbPath(t)
	open(t, path, Options{})

	tests := []struct {
		name string
		open func() (*Store, error)
	}{
		{"read_write", func() (*Store, error) { return Open(path, Options{Timeout: 100 * time.Millisecond}) }},
		{"read_only", func() (*Store, error) { return OpenReadOnly(path, 100*time.Millisecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s, err := tt.open()
			if err == nil {
				s.Close()
				t.Fatal("second open succeeded, want ErrLocked")
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("second open took %v, want about 100ms", elapsed)
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("err = %v, want ErrLocked", err)
			}
			for _, want := range []string{path, "another Keypool"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestOpenCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"tiny", []byte("not a database\n")},
		{"one_page", garbage(5000)}, // readable first page, too short for two
		{"many_pages", garbage(64 << 10)},
		{"text", bytes.Repeat([]byte("[server]\nport = 8080\n"), 1000)},
	}
	opens := []struct {
		name string
		open func(path string) (*Store, error)
	}{
		{"read_write", func(p string) (*Store, error) { return Open(p, Options{}) }},
		{"read_only", func(p string) (*Store, error) { return OpenReadOnly(p, 0) }},
	}
	for _, tt := range tests {
		for _, o := range opens {
			t.Run(tt.name+"/"+o.name, func(t *testing.T) {
				path := filepath.Join(dirtest.New(t), "keypool.db")
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
				s, err := o.open(path)
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded on garbage, want ErrCorrupt")
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("err = %v, want ErrCorrupt", err)
				}
				for _, want := range []string{path, "NOT modified"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err = %q, want it to mention %q", err, want)
					}
				}
				after, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(after, tt.data) {
					t.Errorf("file after Open is %d bytes, want the %d it had, unchanged", len(after), len(tt.data))
				}
			})
		}
	}
}

// MoveAside keeps a damaged file, byte for byte, beside the path, and the
// next Open starts an empty store there; it never overwrites an earlier one.
func TestMoveAside(t *testing.T) {
	dir := dirtest.New(t)
	path := filepath.Join(dir, "keypool.db")
	damaged := bytes.Repeat([]byte("not a database\n"), 100)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	at := time.Date(2026, 11, 26, 11, 40, 5, 0, time.UTC)
	kept, err := MoveAside(path, at)
	if err != nil {
		t.Fatal(err)
	}
	if want := path + ".corrupt-20261126-114005"; kept != want {
		t.Errorf("kept at %s, want %s", kept, want)
	}
	if b, err := os.ReadFile(kept); err != nil || !bytes.Equal(b, damaged) {
		t.Errorf("kept file = %d bytes (%v), want the %d damaged ones unchanged", len(b), err, len(damaged))
	}
	s := open(t, path, Options{})
	if got := len(allRecords(t, s)); got != 0 {
		t.Errorf("fresh store has %d records, want 0", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := MoveAside(path, at); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second MoveAside in the same second = %v, want a refusal", err)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := dbPath(t)
	s := open(t, path, Options{})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("2"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("Open of a schema-2 file: err = %v, want a schema error", err)
	}
}

func TestQueueFull(t *testing.T) {
	clk := newClock(t0)
	var logs lockedBuffer
	path := dbPath(t)
	s := open(t, path, Options{
		QueueSize: 2,
		Now:       clk.nowFunc(),
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 3 {
			s.Record(rec(t0.Add(time.Duration(i)*time.Second), "a", "m", 200, int64(i), 0))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked on a full queue")
	}
	if got := s.Dropped(); got != 1 {
		t.Errorf("Dropped() = %d, want 1", got)
	}

	s.Record(rec(t0, "a", "m", 200, 9, 0)) // within 10s: no second warning
	clk.add(11 * time.Second)
	s.Record(rec(t0, "a", "m", 200, 9, 0)) // 11s later: warns again
	if got := s.Dropped(); got != 3 {
		t.Errorf("Dropped() = %d, want 3", got)
	}
	if got := strings.Count(logs.String(), "usage queue full"); got != 2 {
		t.Errorf("logged %d queue-full warnings, want 2:\n%s", got, logs.String())
	}

	// Close commits the two queued records without Run.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != 2 {
		t.Errorf("after reopen: %d records, want 2", got)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunCommitsQueuedOnCancel(t *testing.T) {
	verifyNoLeaks(t)
	path := dbPath(t)
	s := open(t, path, Options{})
	stop := startRun(t, s)
	const n = 1000
	for i := range n {
		s.Record(rec(t0.Add(time.Duration(i)), "a", "m", 200, 1, 1))
	}
	s.Put("sess", sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != n {
		t.Errorf("after reopen: %d records, want %d", got, n)
	}
	days, err := s2.Day(t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0].Requests != n {
		t.Errorf("Day = %+v, want one total of %d requests", days, n)
	}
	if _, ok := s2.Get("sess"); !ok {
		t.Error("after reopen: Get(sess) not found, want the binding")
	}
}

func TestCloseStopsRun(t *testing.T) {
	verifyNoLeaks(t)
	path := dbPath(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(context.Background()) }()
	waitRunning(t, s)
	s.Record(rec(t0, "a", "m", 200, 1, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	s.Record(rec(t0, "a", "m", 200, 1, 1)) // harmless
	s.Put("x", sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})

	s2 := open(t, path, Options{})
	if got := len(allRecords(t, s2)); got != 1 {
		t.Errorf("after reopen: %d records, want 1", got)
	}
}

func TestRunTwice(t *testing.T) {
	verifyNoLeaks(t)
	s := open(t, dbPath(t), Options{})
	startRun(t, s)
	waitRunning(t, s)
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("second Run: nil error, want already running")
	}
}

func TestFlushHonoursContext(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush(cancelled) = %v, want context.Canceled", err)
	}
}

func TestConcurrentRecords(t *testing.T) {
	verifyNoLeaks(t)
	s := open(t, dbPath(t), Options{})
	startRun(t, s)

	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				s.Record(rec(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("acct-%d", g%2), "m", 200, 1, 1))
				if i%50 == 0 {
					s.Put(fmt.Sprintf("s%d", g), sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})
					s.Get("s0")
				}
			}
		})
	}
	// Flushes racing with the writers must not deadlock.
	wg.Go(func() {
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Flush(ctx); err != nil {
				t.Errorf("concurrent Flush: %v", err)
			}
			cancel()
		}
	})
	wg.Wait()
	flush(t, s)

	if got := len(allRecords(t, s)); got != goroutines*each {
		t.Errorf("%d records, want %d", got, goroutines*each)
	}
	if got := s.Dropped(); got != 0 {
		t.Errorf("Dropped() = %d, want 0", got)
	}
	days, err := s.Day(t0)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, d := range days {
		sum += d.Requests
	}
	if sum != goroutines*each {
		t.Errorf("daily requests sum = %d, want %d", sum, goroutines*each)
	}
}

// TestFlushAcrossRunStop checks that a Flush waiting on the writer still
// returns when Run stops underneath it.
func TestFlushAcrossRunStop(t *testing.T) {
	verifyNoLeaks(t)
	s := open(t, dbPath(t), Options{QueueSize: 8})
	for range 20 {
		stop := startRun(t, s)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s.Record(rec(t0, "a", "m", 200, 1, 1))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := s.Flush(ctx); err != nil {
					t.Errorf("Flush: %v", err)
				}
			})
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

func TestReadOnly(t *testing.T) {
	path := dbPath(t)

	if _, err := OpenReadOnly(path, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly of a missing file = %v, want fs.ErrNotExist", err)
	}

	s := open(t, path, Options{})
	s.Record(rec(t0, "a", "m", 200, 1, 1))
	s.Put("sess", sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	ro, err := OpenReadOnly(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ro2, err := OpenReadOnly(path, 0) // readers share the file
	if err != nil {
		t.Fatal(err)
	}
	if err := ro2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(allRecords(t, ro)); got != 1 {
		t.Errorf("read-only Records: %d, want 1", got)
	}
	if days, err := ro.Day(t0); err != nil || len(days) != 1 {
		t.Errorf("read-only Day = %+v, %v; want one total", days, err)
	}
	if _, ok := ro.Get("sess"); !ok {
		t.Error("read-only Get(sess): not found, want the binding")
	}
	ro.Record(rec(t0, "a", "m", 200, 1, 1))
	ro.Put("other", sched.Binding{Account: "b", Expires: time.Now().Add(time.Hour)})
	if err := ro.Flush(context.Background()); err != nil {
		t.Errorf("read-only Flush = %v, want nil", err)
	}
	if got := ro.Dropped(); got != 0 {
		t.Errorf("read-only Dropped() = %d, want 0", got)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("file after a read-only open is %d bytes, want the %d it had, unchanged", len(after), len(before))
	}
}

func TestNoSecretFields(t *testing.T) {
	// The store writes UsageRecord, Binding and DayTotal as JSON. Guard against
	// a field that looks like a credential creeping into any of them.
	s := open(t, dbPath(t), Options{})
	s.Record(rec(t0, "a", "m", 200, 1, 1))
	s.Put("sess", sched.Binding{Account: "a", Expires: time.Now().Add(time.Hour)})
	flush(t, s)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				low := strings.ToLower(string(v))
				for _, bad := range []string{"secret", "token\"", "api_key", "password", "authorization"} {
					if strings.Contains(low, bad) {
						t.Errorf("bucket %s key %q = %s, want no %q in it", name, k, v, bad)
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := rec(t0, "acct-a", "claude-sonnet-4", 200, 1200, 300)
	r.Failover = []record.FailoverStep{{Account: "acct-b", Status: 529, Reason: "overloaded"}}

	b.Run("enqueue", func(b *testing.B) {
		s, err := Open(filepath.Join(dirtest.New(b), "keypool.db"), Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		b.ReportAllocs()
		for b.Loop() {
			if len(s.w.queue) == cap(s.w.queue) {
				b.StopTimer()
				for len(s.w.queue) > 0 {
					<-s.w.queue
				}
				b.StartTimer()
			}
			s.Record(r)
		}
		if s.Dropped() != 0 {
			b.Fatalf("dropped %d", s.Dropped())
		}
	})

	b.Run("queue_full", func(b *testing.B) {
		s, err := Open(filepath.Join(dirtest.New(b), "keypool.db"), Options{QueueSize: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			for len(s.w.queue) > 0 {
				<-s.w.queue
			}
			s.Close()
		}()
		s.Record(r)
		b.ReportAllocs()
		for b.Loop() {
			s.Record(r)
		}
	})
}

func TestHourlyAndLatest(t *testing.T) {
	s := open(t, dbPath(t), Options{})
	start := t0.Truncate(time.Hour)
	for i, at := range []time.Duration{-time.Minute, 0, 10 * time.Minute, 59 * time.Minute, time.Hour, 3*time.Hour + time.Second, 24 * time.Hour} {
		r := rec(start.Add(at), "a", "m", 200, int64(i), 1)
		r.CostUSD = 0.25 * float64(i)
		s.Record(r)
	}
	flush(t, s)
	got, err := s.Hourly(start, 24)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Hour, 24)
	want[0], want[1], want[3] = Hour{3, 1.5}, Hour{1, 1}, Hour{1, 1.25}
	if !slices.Equal(got, want) {
		t.Errorf("Hourly = %v, want %v", got, want)
	}
	latest, err := s.Latest(3)
	if err != nil {
		t.Fatal(err)
	}
	var ins []int64
	for _, r := range latest {
		ins = append(ins, r.Usage.InputTokens)
	}
	if !slices.Equal(ins, []int64{6, 5, 4}) {
		t.Errorf("Latest(3) inputs = %v, want [6 5 4]", ins)
	}
}

// BenchmarkWindowQueries is what the window asks the store every second
// (the hourly chart and the latest requests) with a busy day (50,000
// records) in the file.
func BenchmarkWindowQueries(b *testing.B) {
	s, err := Open(filepath.Join(dirtest.New(b), "keypool.db"), Options{QueueSize: 60000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	for i := range 50000 {
		s.Record(rec(now.Add(-time.Duration(i)*1700*time.Millisecond), "acct", "claude-sonnet-4-5", 200, 1000, 300))
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Hourly(now.Truncate(time.Hour).Add(-23*time.Hour), 24); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Latest(100); err != nil {
			b.Fatal(err)
		}
	}
}
