package journal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
)

// encodeLine appends e's journal line, newline included, to dst.
func encodeLine(dst []byte, e *Entry) []byte {
	start := len(dst)
	dst = append(dst, "00000000 "...)
	body := len(dst)
	switch e.Kind {
	case Usage:
		dst = append(dst, "u "...)
		dst = hex.AppendEncode(dst, e.Key[:])
		dst = append(dst, ' ')
		dst = append(dst, e.Value...)
	case BindingPut:
		dst = append(dst, "b "...)
		dst = hex.AppendEncode(dst, []byte(e.Session))
		dst = append(dst, ' ')
		dst = append(dst, e.Value...)
	case BindingDrop:
		dst = append(dst, "d "...)
		dst = hex.AppendEncode(dst, []byte(e.Session))
	}
	sum := crc32.ChecksumIEEE(dst[body:])
	hex.Encode(dst[start:start+8], []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return append(dst, '\n')
}

// errBadLine marks a journal line that is torn or fails its checksum.
var errBadLine = errors.New("damaged journal line")

// decodeLine parses one line (without its newline). The entry's Value is a
// copy: it does not share line's memory.
func decodeLine(line []byte) (Entry, error) {
	if len(line) < 11 || line[8] != ' ' || line[10] != ' ' {
		return Entry{}, errBadLine
	}
	var want [4]byte
	if _, err := hex.Decode(want[:], line[:8]); err != nil {
		return Entry{}, errBadLine
	}
	body := line[9:]
	if crc32.ChecksumIEEE(body) != uint32(want[0])<<24|uint32(want[1])<<16|uint32(want[2])<<8|uint32(want[3]) {
		return Entry{}, errBadLine
	}
	kind, rest := body[0], body[2:]
	id, value, _ := bytes.Cut(rest, []byte{' '})
	raw := make([]byte, hex.DecodedLen(len(id)))
	if _, err := hex.Decode(raw, id); err != nil {
		return Entry{}, errBadLine
	}
	value = bytes.Clone(value)
	switch kind {
	case 'u':
		var e Entry
		if len(raw) != len(e.Key) || !json.Valid(value) {
			return Entry{}, errBadLine
		}
		e.Kind, e.Value = Usage, value
		copy(e.Key[:], raw)
		return e, nil
	case 'b':
		if !json.Valid(value) {
			return Entry{}, errBadLine
		}
		return Entry{Kind: BindingPut, Session: string(raw), Value: value}, nil
	case 'd':
		return Entry{Kind: BindingDrop, Session: string(raw)}, nil
	}
	return Entry{}, errBadLine
}
