// Package journal keeps the store's queued writes in segment files next to
// the database, so that a write survives the process being killed before it
// is committed. Every usage record and binding change is appended to the
// current segment, as one checksummed line, before it is queued. The append
// is a plain write(2) with no fsync: the kernel keeps a killed process's
// writes, and the store's bbolt commit (which does fsync) follows within
// milliseconds, so only a power cut inside that window can lose a line. A
// segment is deleted once every entry in it has been committed and a newer
// segment has taken over; the next open replays whatever segments are left.
//
// Line format: 8 hex digits of CRC-32 (IEEE) over the rest of the line, a
// space, then one of
//
//	u <32 hex digits of usage key> <record JSON>
//	b <hex session> <binding JSON>
//	d <hex session>
//
// JSON never contains a raw newline, so a line is one entry.
package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultSegmentSize is the size at which appends move to a new segment.
const DefaultSegmentSize = 1 << 20

// Kind says what an entry writes.
type Kind uint8

// The kinds of entry, each with its letter in the line format.
const (
	Usage       Kind = iota + 1 // u: Value (record JSON) under Key
	BindingPut                  // b: Value (binding JSON) under Session
	BindingDrop                 // d: delete Session
)

// Entry is one journaled write.
type Entry struct {
	Kind    Kind
	Key     [16]byte // Usage: time prefix and store-wide sequence
	Session string   // BindingPut, BindingDrop
	Value   []byte   // Usage: record JSON; BindingPut: binding JSON
}

// Journal is the set of segment files beside one database. A segment is
// numbered from 1 and named after the database: keypool.db.journal-000001.
//
// A Journal is not safe for concurrent use: its owner serialises every call
// (the store does so with the same lock that orders its write queue).
type Journal struct {
	prefix  string   // a segment's path is prefix + its number
	segMax  int64    // size at which appends move to a new segment
	f       *os.File // current segment; nil until the first append
	seg     uint64   // current segment's number
	size    int64    // bytes in the current segment
	pending map[uint64]int
	line    []byte // scratch for one line
	closed  bool   // after Close or Abandon, appends write nothing
}

// New returns the journal of the database at dbPath. segmentSize is the size
// at which appends move to a new segment; zero or less means
// DefaultSegmentSize. Nothing is read or written until Replay or Append.
func New(dbPath string, segmentSize int64) *Journal {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	return &Journal{prefix: dbPath + ".journal-", segMax: segmentSize, pending: make(map[uint64]int)}
}

func (j *Journal) segPath(n uint64) string {
	return j.prefix + fmt.Sprintf("%06d", n)
}

// Segments lists the segment numbers on disk, oldest first. The directory
// is read rather than globbed: the data dir's path may hold '[' or '*'.
func (j *Journal) Segments() ([]uint64, error) {
	dir, base := filepath.Split(j.prefix)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil || n == 0 {
			continue // not ours
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums, nil
}

// Append writes e's line to the current segment, rotating first if the
// segment is full, and returns the segment number, which the owner passes to
// Done once e is committed. It returns 0 if the line could not be written,
// or if the journal is closed. A failed write is cut back off the file so
// the next line starts clean.
func (j *Journal) Append(e *Entry) (uint64, error) {
	if j.closed {
		return 0, nil
	}
	if e.Kind < Usage || e.Kind > BindingDrop {
		return 0, fmt.Errorf("append to the journal: unknown entry kind %d", e.Kind)
	}
	if j.f == nil || j.size >= j.segMax {
		if err := j.rotate(); err != nil {
			return 0, err
		}
	}
	j.line = encodeLine(j.line[:0], e)
	n, err := j.f.Write(j.line)
	if err != nil {
		if n > 0 {
			_ = j.f.Truncate(j.size)
			_, _ = j.f.Seek(j.size, 0)
		}
		return 0, fmt.Errorf("append to %s: %w", j.f.Name(), err)
	}
	j.size += int64(n)
	j.pending[j.seg]++
	return j.seg, nil
}

// rotate starts the next segment. The old one is removed once its entries
// are committed (see Done). A segment is never reopened: a number already on
// disk (left by a replay that could not commit) is skipped, not truncated.
func (j *Journal) rotate() error {
	next := j.seg + 1
	f, err := os.OpenFile(j.segPath(next), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	for tries := 0; errors.Is(err, fs.ErrExist) && tries < 1000; tries++ {
		next++
		f, err = os.OpenFile(j.segPath(next), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("start usage journal: %w", err)
	}
	old, oldSeg := j.f, j.seg
	j.f, j.seg, j.size = f, next, 0
	if old != nil {
		_ = old.Close()
		j.removeIfDone(oldSeg)
	}
	return nil
}

// Done marks one entry of segment seg committed (or given up) and removes
// the segment when nothing in it is left and appends have moved on. A seg of
// 0 (an entry that was never journaled) is ignored.
func (j *Journal) Done(seg uint64) {
	if seg == 0 {
		return
	}
	j.pending[seg]--
	j.removeIfDone(seg)
}

func (j *Journal) removeIfDone(seg uint64) {
	if j.pending[seg] > 0 || seg == j.seg && j.f != nil {
		return
	}
	delete(j.pending, seg)
	_ = os.Remove(j.segPath(seg))
}

// Close closes the current segment and removes every segment with nothing
// pending. It reports how many journaled entries remain for the next Replay.
// Appends after Close write nothing.
func (j *Journal) Close() int {
	j.closed = true
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	left := 0
	for seg, n := range j.pending {
		if n > 0 {
			left += n
			continue
		}
		delete(j.pending, seg)
		_ = os.Remove(j.segPath(seg))
	}
	if j.pending[j.seg] == 0 {
		_ = os.Remove(j.segPath(j.seg))
	}
	return left
}

// Abandon closes the current segment's file and stops appends, leaving
// every segment on disk as a killed process would. Tests use it to crash a
// store.
func (j *Journal) Abandon() {
	j.closed = true
	if j.f != nil {
		_ = j.f.Close()
	}
}

// Replay reads every segment left on disk, oldest first, and passes each
// intact entry, with its segment's number, to fn. Damaged lines (a write
// torn by a full disk, say) and entries fn refuses (returns an error for)
// are counted and skipped; the rest stay pending until Done. Segments with
// nothing pending are removed, and appends continue after the newest one.
func (j *Journal) Replay(fn func(seg uint64, e Entry) error) (damaged int, err error) {
	nums, err := j.Segments()
	if err != nil {
		return 0, err
	}
	for _, n := range nums {
		b, err := os.ReadFile(j.segPath(n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read usage journal: %w", err)
		}
		for line := range bytes.Lines(b) {
			if line[len(line)-1] != '\n' {
				damaged++ // the last write was cut short
				break
			}
			e, err := decodeLine(line[:len(line)-1])
			if err == nil {
				err = fn(n, e)
			}
			if err != nil {
				damaged++
				continue
			}
			j.pending[n]++
		}
		if j.pending[n] == 0 {
			_ = os.Remove(j.segPath(n))
		}
		j.seg = n
	}
	return damaged, nil
}
