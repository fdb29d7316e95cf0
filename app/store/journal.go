package store

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The journal lets a queued write survive the process being killed before
// the writer commits it. Every usage record and binding change is appended to
// the current segment file, as one checksummed line, before it is queued.
// The append is a plain write(2) with no fsync: the kernel keeps a killed
// process's writes, and the writer's bbolt commit (which does fsync) follows
// within milliseconds, so only a power cut inside that window can lose a line.
// A segment is deleted once every op in it has been committed and a newer
// segment has taken over; Open replays whatever segments are left.
//
// Line format: 8 hex digits of CRC-32 (IEEE) over the rest of the line, a
// space, then one of
//
//	u <32 hex digits of usage key> <record JSON>
//	b <hex session> <binding JSON>
//	d <hex session>
//
// JSON never contains a raw newline, so a line is one op.

// journalSegmentMax is the size at which appends move to a new segment.
const journalSegmentMax = 1 << 20

// journal is the set of segment files next to the database. Its fields are
// guarded by Store.jmu.
type journal struct {
	prefix  string   // a segment's path is prefix + its number
	max     int64    // size at which appends move to a new segment
	f       *os.File // current segment; nil until the first append
	seg     uint64   // current segment's number
	size    int64    // bytes in the current segment
	pending map[uint64]int
	line    []byte // scratch for one line
	err     error  // last append error; nil while appends work
	closed  bool   // after close, appends write nothing
}

func newJournal(dbPath string) *journal {
	return &journal{prefix: dbPath + ".journal-", max: journalSegmentMax, pending: make(map[uint64]int)}
}

func (j *journal) segPath(n uint64) string {
	return j.prefix + fmt.Sprintf("%06d", n)
}

// segments lists the segment numbers on disk, oldest first. The directory
// is read rather than globbed: the data dir's path may hold '[' or '*'.
func (j *journal) segments() ([]uint64, error) {
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

// append writes o's line to the current segment, rotating first if the
// segment is full, and returns the segment number, or 0 if the line could not
// be written. A failed write is cut back off the file so the next line starts
// clean.
func (j *journal) append(o *op) (uint64, error) {
	if o.kind == opFlush || j.closed {
		return 0, nil
	}
	if j.f == nil || j.size >= j.max {
		if err := j.rotate(); err != nil {
			return 0, err
		}
	}
	j.line = encodeLine(j.line[:0], o)
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

// rotate starts the next segment. The old one is removed once its ops are
// committed (see done). A segment is never reopened: a number already on
// disk (left by a replay that could not commit) is skipped, not truncated.
func (j *journal) rotate() error {
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

// done marks one op of segment seg committed (or given up) and removes the
// segment when nothing in it is left and appends have moved on.
func (j *journal) done(seg uint64) {
	if seg == 0 {
		return
	}
	j.pending[seg]--
	j.removeIfDone(seg)
}

func (j *journal) removeIfDone(seg uint64) {
	if j.pending[seg] > 0 || seg == j.seg && j.f != nil {
		return
	}
	delete(j.pending, seg)
	_ = os.Remove(j.segPath(seg))
}

// close closes the current segment and removes it if nothing in it is
// pending. It reports how many journaled ops remain for the next Open.
func (j *journal) close() int {
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

// encodeLine appends o's journal line to dst.
func encodeLine(dst []byte, o *op) []byte {
	start := len(dst)
	dst = append(dst, "00000000 "...)
	body := len(dst)
	switch o.kind {
	case opUsage:
		dst = append(dst, "u "...)
		dst = hex.AppendEncode(dst, o.key[:])
		dst = append(dst, ' ')
		dst = append(dst, o.value...)
	case opBindingPut:
		dst = append(dst, "b "...)
		dst = hex.AppendEncode(dst, []byte(o.session))
		dst = append(dst, ' ')
		dst = append(dst, o.value...)
	case opBindingDrop:
		dst = append(dst, "d "...)
		dst = hex.AppendEncode(dst, []byte(o.session))
	}
	sum := crc32.ChecksumIEEE(dst[body:])
	hex.Encode(dst[start:start+8], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return append(dst, '\n')
}

// errBadLine marks a journal line that is torn or fails its checksum.
var errBadLine = errors.New("damaged journal line")

// decodeLine parses one line (without its newline).
func decodeLine(line []byte) (op, error) {
	if len(line) < 11 || line[8] != ' ' || line[10] != ' ' {
		return op{}, errBadLine
	}
	var want [4]byte
	if _, err := hex.Decode(want[:], line[:8]); err != nil {
		return op{}, errBadLine
	}
	body := line[9:]
	if crc32.ChecksumIEEE(body) != uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) {
		return op{}, errBadLine
	}
	kind, rest := body[0], body[2:]
	id, value, _ := bytes.Cut(rest, []byte{' '})
	raw := make([]byte, hex.DecodedLen(len(id)))
	if _, err := hex.Decode(raw, id); err != nil {
		return op{}, errBadLine
	}
	value = bytes.Clone(value)
	switch kind {
	case 'u':
		var o op
		if len(raw) != len(o.key) {
			return op{}, errBadLine
		}
		if err := json.Unmarshal(value, &o.rec); err != nil {
			return op{}, fmt.Errorf("%w: %v", errBadLine, err)
		}
		o.kind, o.value = opUsage, value
		copy(o.key[:], raw)
		return o, nil
	case 'b':
		if !json.Valid(value) {
			return op{}, errBadLine
		}
		return op{kind: opBindingPut, session: string(raw), value: value}, nil
	case 'd':
		return op{kind: opBindingDrop, session: string(raw)}, nil
	}
	return op{}, errBadLine
}

// read reads every segment left on disk, oldest first. Damaged lines
// (a write torn by a full disk, say) are counted and skipped. The journal is
// set to append after the newest segment.
func (j *journal) read() (ops []op, damaged int, err error) {
	nums, err := j.segments()
	if err != nil {
		return nil, 0, err
	}
	for _, n := range nums {
		b, err := os.ReadFile(j.segPath(n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read usage journal: %w", err)
		}
		for line := range bytes.Lines(b) {
			if line[len(line)-1] != '\n' {
				damaged++ // the last write was cut short
				break
			}
			o, err := decodeLine(line[:len(line)-1])
			if err != nil {
				damaged++
				continue
			}
			o.seg = n
			j.pending[n]++
			ops = append(ops, o)
		}
		if j.pending[n] == 0 {
			_ = os.Remove(j.segPath(n))
		}
		j.seg = n
	}
	return ops, damaged, nil
}
