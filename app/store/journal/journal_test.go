package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"keypool/internal/dirtest"
)

func dbPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(dirtest.New(t), "keypool.db")
}

func usage(n byte) Entry {
	e := Entry{Kind: Usage, Value: []byte(fmt.Sprintf(`{"n":%d}`, n))}
	e.Key[15] = n
	return e
}

// entries is one entry of each kind.
func entries() []Entry {
	return []Entry{
		usage(1),
		{Kind: BindingPut, Session: "cc:6b111a00", Value: []byte(`{"account":"a","expires":"2025-03-10T13:00:00Z"}`)},
		{Kind: BindingDrop, Session: "fp:x y"},
	}
}

func equal(a, b Entry) bool {
	return a.Kind == b.Kind && a.Key == b.Key && a.Session == b.Session && bytes.Equal(a.Value, b.Value)
}

// appendAll appends es to j and returns their segment numbers.
func appendAll(t *testing.T, j *Journal, es ...Entry) []uint64 {
	t.Helper()
	var segs []uint64
	for i := range es {
		seg, err := j.Append(&es[i])
		if err != nil || seg == 0 {
			t.Fatalf("Append(%+v) = %d, %v; want a segment number and no error", es[i], seg, err)
		}
		segs = append(segs, seg)
	}
	return segs
}

// replayed is what a new journal on path replays.
type replayed struct {
	j       *Journal
	segs    []uint64
	got     []Entry
	damaged int
}

func replay(t *testing.T, path string) replayed {
	t.Helper()
	r := replayed{j: New(path, 0)}
	damaged, err := r.j.Replay(func(seg uint64, e Entry) error {
		r.segs = append(r.segs, seg)
		r.got = append(r.got, e)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	r.damaged = damaged
	return r
}

func segmentsOf(t *testing.T, j *Journal) []uint64 {
	t.Helper()
	nums, err := j.Segments()
	if err != nil {
		t.Fatalf("Segments: %v", err)
	}
	return nums
}

func TestAppendThenReplay(t *testing.T) {
	path := dbPath(t)
	j := New(path, 0)
	want := entries()
	appendAll(t, j, want...)
	j.Abandon() // a kill: nothing is committed

	r := replay(t, path)
	defer r.j.Close() // an open segment cannot be removed on Windows
	if len(r.got) != len(want) || r.damaged != 0 {
		t.Fatalf("Replay gave %d entries, %d damaged; want %d, 0", len(r.got), r.damaged, len(want))
	}
	for i := range want {
		if !equal(r.got[i], want[i]) || r.segs[i] != 1 {
			t.Errorf("entry %d = %+v in segment %d; want %+v in segment 1", i, r.got[i], r.segs[i], want[i])
		}
	}
	// The replayed entries are pending: once done, their segment goes.
	for _, seg := range r.segs {
		r.j.Done(seg)
	}
	if got := segmentsOf(t, r.j); len(got) != 0 {
		t.Errorf("segments after every replayed entry is done = %v, want none", got)
	}
	// Appends continue after the replayed segment.
	if got := appendAll(t, r.j, usage(9)); got[0] != 2 {
		t.Errorf("first append after replay went to segment %d, want 2", got[0])
	}
}

func TestRotateAndRemoveDone(t *testing.T) {
	path := dbPath(t)
	j := New(path, 100) // about two lines a segment
	var segs []uint64
	for n := range byte(10) {
		segs = append(segs, appendAll(t, j, usage(n))...)
	}
	last := segs[len(segs)-1]
	if last < 3 {
		t.Fatalf("10 appends to 100-byte segments ended in segment %d, want at least 3", last)
	}
	if got := segmentsOf(t, j); len(got) != int(last) {
		t.Errorf("segments on disk = %v, want 1 to %d (nothing is done yet)", got, last)
	}
	for _, seg := range segs {
		j.Done(seg)
	}
	if got, want := segmentsOf(t, j), []uint64{last}; !slices.Equal(got, want) {
		t.Errorf("segments after every entry is done = %v, want %v (the current one stays)", got, want)
	}
	if left := j.Close(); left != 0 {
		t.Errorf("Close left %d entries, want 0", left)
	}
	if got := segmentsOf(t, j); len(got) != 0 {
		t.Errorf("segments after Close = %v, want none", got)
	}
}

func TestCloseKeepsPending(t *testing.T) {
	path := dbPath(t)
	j := New(path, 0)
	segs := appendAll(t, j, entries()...)
	j.Done(segs[0])
	if left := j.Close(); left != 2 {
		t.Errorf("Close left %d entries, want 2", left)
	}
	if seg, err := j.Append(&entries()[0]); seg != 0 || err != nil {
		t.Errorf("Append after Close = %d, %v; want 0, nil (nothing written)", seg, err)
	}
	// A line stays in its segment until the segment goes: all three replay.
	if r := replay(t, path); len(r.got) != 3 {
		t.Errorf("Replay after Close gave %d entries, want 3", len(r.got))
	}
}

func TestReplayDamaged(t *testing.T) {
	path := dbPath(t)
	j := New(path, 0)
	var es []Entry
	for n := range byte(5) {
		es = append(es, usage(n))
	}
	appendAll(t, j, es...)
	j.Abandon()
	seg := j.segPath(1)
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines[2][len(lines[2])/2] ^= 1        // a flipped bit: checksum fails
	lines[4] = lines[4][:len(lines[4])/2] // torn last write
	if err := os.WriteFile(seg, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}

	r := New(path, 0)
	var got []byte
	damaged, err := r.Replay(func(_ uint64, e Entry) error {
		if e.Key[15] == 1 {
			return errors.New("refused") // the owner cannot use it
		}
		got = append(got, e.Key[15])
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if want := []byte{0, 3}; !bytes.Equal(got, want) || damaged != 3 {
		t.Errorf("Replay kept %v with %d damaged; want %v with 3 (flipped, torn, refused)", got, damaged, want)
	}
}

// A segment with nothing usable in it is removed by Replay.
func TestReplayRemovesEmptySegments(t *testing.T) {
	path := dbPath(t)
	if err := os.WriteFile(path+".journal-000004", []byte("00000000 u 00 {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := replay(t, path)
	defer r.j.Close() // an open segment cannot be removed on Windows
	if len(r.got) != 0 || r.damaged != 1 {
		t.Errorf("Replay gave %d entries, %d damaged; want 0, 1", len(r.got), r.damaged)
	}
	if got := segmentsOf(t, r.j); len(got) != 0 {
		t.Errorf("segments after Replay = %v, want none", got)
	}
	if got := appendAll(t, r.j, usage(1)); got[0] != 5 {
		t.Errorf("first append went to segment %d, want 5 (after the replayed one)", got[0])
	}
}

// A segment number already on disk is skipped, never truncated.
func TestRotateSkipsExistingSegment(t *testing.T) {
	path := dbPath(t)
	j := New(path, 0)
	left := []byte("left by a replay that could not commit\n")
	if err := os.WriteFile(j.segPath(1), left, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := appendAll(t, j, usage(1)); got[0] != 2 {
		t.Errorf("append went to segment %d, want 2", got[0])
	}
	if b, err := os.ReadFile(j.segPath(1)); err != nil || !bytes.Equal(b, left) {
		t.Errorf("segment 1 = %q, %v; want it untouched: %q", b, err, left)
	}
}

func TestAppendUnknownKind(t *testing.T) {
	j := New(dbPath(t), 0)
	if seg, err := j.Append(&Entry{}); seg != 0 || err == nil {
		t.Errorf("Append of a zero Entry = %d, %v; want 0 and an error", seg, err)
	}
}

// A data dir whose path holds glob characters: its segments are still found.
func TestSegmentsPathWithGlobCharacters(t *testing.T) {
	name := "Keypool [work] *?"
	if runtime.GOOS == "windows" {
		name = "Keypool [work]" // Windows allows no * or ? in a name
	}
	dir := filepath.Join(dirtest.New(t), name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "keypool.db")
	j := New(path, 0)
	appendAll(t, j, entries()...)
	j.Abandon()
	if got, want := segmentsOf(t, New(path, 0)), []uint64{1}; !slices.Equal(got, want) {
		t.Errorf("Segments = %v, want %v", got, want)
	}
}

// FuzzJournalLine: any line decodes without panicking, and a line that
// decodes encodes back to one that decodes to the same entry.
func FuzzJournalLine(f *testing.F) {
	u := Entry{Kind: Usage, Value: []byte(`{"time":"2025-03-10T12:00:00Z","route":"/v1/messages","status":200}`)}
	copy(u.Key[:], "0123456789abcdef")
	for _, e := range []Entry{u,
		{Kind: BindingPut, Session: "cc:6b111a00", Value: []byte(`{"account":"a","expires":"2025-03-10T13:00:00Z"}`)},
		{Kind: BindingDrop, Session: "fp:x y"},
	} {
		line := encodeLine(nil, &e)
		f.Add(line[:len(line)-1])
	}
	f.Add([]byte("00000000 u 00 {}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := decodeLine(line)
		if err != nil {
			return
		}
		again := encodeLine(nil, &e)
		e2, err := decodeLine(again[:len(again)-1])
		if err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n%q", err, again)
		}
		if !equal(e2, e) {
			t.Fatalf("round trip changed the entry:\n got  %+v\n want %+v", e2, e)
		}
	})
}
