// Package sse copies a server-sent-event stream from an upstream to a client
// one event at a time: bytes are never re-encoded, every complete event is
// written and flushed as soon as it has arrived, and a tap may look at each
// event (to read usage) without copying it.
package sse

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// bufSize bounds how much of one event is held before it is passed on
// unfinished. Usage-bearing events are far smaller.
const bufSize = 8 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Copy reads src until EOF and writes it to dst unchanged. After each read it
// writes every complete event that has arrived (an event ends at a blank line)
// and calls flush; a trailing partial event waits for the rest of its bytes.
// tap, if not nil, sees each complete event; the slice is only valid during
// the call. An event larger than the buffer is passed on in pieces and is not
// shown to tap.
//
// Copy returns the bytes written and the first read or write error; io.EOF
// from src is not an error. On a read error, the events completed before it
// have been written, and a partial one has not.
func Copy(dst io.Writer, src io.Reader, flush func() error, tap func(event []byte)) (written int64, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp

	var (
		end     int  // bytes held in buf[:end]
		scanned int  // buf[:scanned] holds no event boundary yet
		inLarge bool // the held bytes continue an event already passed on
	)
	for {
		n, rerr := src.Read(buf[end:])
		end += n

		// Find the last boundary among the new bytes, tapping each event.
		cut := 0
		if n > 0 {
			from := max(scanned-3, 0) // a boundary may straddle the previous read
			for {
				i := boundary(buf[cut:end], from-cut)
				if i < 0 {
					break
				}
				ev := buf[cut : cut+i]
				if tap != nil && !inLarge {
					tap(ev)
				}
				inLarge = false
				cut += i
				from = cut
			}
			scanned = end
		}
		if cut == 0 && end == len(buf) {
			// One event fills the buffer: pass it on unfinished, keeping
			// its last bytes so a blank line split across reads is found.
			cut, inLarge = end-3, true
		}
		if cut > 0 {
			w, werr := dst.Write(buf[:cut])
			written += int64(w)
			if werr != nil {
				return written, werr
			}
			if flush != nil {
				if ferr := flush(); ferr != nil {
					return written, ferr
				}
			}
			end = copy(buf, buf[cut:end])
			scanned = max(scanned-cut, 0)
		}

		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return written, rerr
			}
			if end > 0 { // a last event without its blank line
				w, werr := dst.Write(buf[:end])
				written += int64(w)
				if werr != nil {
					return written, werr
				}
				if tap != nil && !inLarge {
					tap(buf[:end])
				}
				if flush != nil {
					if ferr := flush(); ferr != nil {
						return written, ferr
					}
				}
			}
			return written, nil
		}
	}
}

// boundary returns the index just past the first event boundary in b at or
// after from (a blank line: "\n\n", "\r\n\r\n", "\r\r" or a mix), or -1.
func boundary(b []byte, from int) int {
	for i := max(from, 0); i < len(b); i++ {
		c := b[i]
		if c != '\n' && c != '\r' {
			continue
		}
		// b[i] ends a line; the line after it is blank if it is a lone
		// terminator too.
		j := i + 1
		if c == '\r' && j < len(b) && b[j] == '\n' {
			j++
		}
		if j >= len(b) {
			return -1
		}
		switch b[j] {
		case '\n':
			return j + 1
		case '\r':
			if j+1 < len(b) && b[j+1] == '\n' {
				return j + 2
			}
			if j+1 == len(b) {
				return -1 // CR alone at the end: wait for a possible LF
			}
			return j + 1
		}
		i = j - 1
	}
	return -1
}

// Line splits the first line off ev (a line ends at CR or LF) and reads it
// as "field: value", the space after the colon optional; a line without a
// colon is all field. rest is what follows the line.
func Line(ev []byte) (field, value, rest []byte) {
	line := ev
	if i := bytes.IndexAny(ev, "\r\n"); i >= 0 {
		line, rest = ev[:i], ev[i+1:]
	}
	field = line
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	return field, value, rest
}

// Field returns the value of the first line in ev named name ("event",
// "data"), or nil.
func Field(ev []byte, name string) []byte {
	for len(ev) > 0 {
		var f, v []byte
		f, v, ev = Line(ev)
		if string(f) == name {
			return v
		}
	}
	return nil
}

// Event is one event: an event line when name is not empty, then data,
// which must be a single line (JSON is).
func Event(name string, data []byte) []byte {
	out := make([]byte, 0, len("event: \ndata: \n\n")+len(name)+len(data))
	if name != "" {
		out = append(append(append(out, "event: "...), name...), '\n')
	}
	return append(append(append(out, "data: "...), data...), "\n\n"...)
}

// maxEvent bounds one event Transform holds whole.
const maxEvent = 16 << 20

// Transform reads src like Copy, but writes what fn makes of each complete
// event (fn appends its output to out and returns it) instead of the event,
// flushing after each read that completed events. Events are held whole, up
// to 16 MiB, since fn needs all of one. A last event without its blank line
// is given to fn too.
func Transform(dst io.Writer, src io.Reader, flush func() error, fn func(out, ev []byte) ([]byte, error)) (written int64, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	var out []byte
	end, scanned := 0, 0
	emit := func() error {
		if len(out) == 0 {
			return nil
		}
		w, werr := dst.Write(out)
		written += int64(w)
		out = out[:0]
		if werr != nil {
			return werr
		}
		if flush != nil {
			return flush()
		}
		return nil
	}
	for {
		if end == len(buf) {
			if len(buf) >= maxEvent {
				return written, errors.New("sse: event larger than 16 MiB")
			}
			grown := make([]byte, 2*len(buf))
			copy(grown, buf[:end])
			buf = grown
		}
		n, rerr := src.Read(buf[end:])
		end += n
		cut := 0
		if n > 0 {
			from := max(scanned-3, 0)
			for {
				i := boundary(buf[cut:end], from-cut)
				if i < 0 {
					break
				}
				var ferr error
				if out, ferr = fn(out, buf[cut:cut+i]); ferr != nil {
					return written, ferr
				}
				cut += i
				from = cut
			}
			scanned = end
		}
		if cut > 0 {
			end = copy(buf, buf[cut:end])
			scanned = max(scanned-cut, 0)
		}
		if err := emit(); err != nil {
			return written, err
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return written, rerr
			}
			if end > 0 {
				var ferr error
				if out, ferr = fn(out, buf[:end]); ferr != nil {
					return written, ferr
				}
				if err := emit(); err != nil {
					return written, err
				}
			}
			return written, nil
		}
	}
}

// Data returns an event's data: its data lines joined by "\n", as the SSE
// grammar says. With one data line it is a slice of ev (no copy).
func Data(ev []byte) []byte {
	var out []byte
	n := 0
	for len(ev) > 0 {
		var f, v []byte
		f, v, ev = Line(ev)
		if string(f) != "data" {
			continue
		}
		switch n++; n {
		case 1:
			out = v
		case 2:
			out = append(append(append([]byte(nil), out...), '\n'), v...)
		default:
			out = append(append(out, '\n'), v...)
		}
	}
	return out
}
