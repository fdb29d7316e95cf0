package sse

import (
	"errors"
	"io"
	"time"
)

// Opening says what an event at the start of a stream means for whether the
// stream may still be given up: Preamble events (a message or response
// being opened, a ping) say nothing yet, Content is the first word, and
// Failed means the stream failed before any content.
type Opening int

// The kinds of opening event.
const (
	Preamble Opening = iota
	Content
	Failed
)

// Head reads the start of a stream into buf until an event that is not
// Preamble has arrived complete, and returns how many bytes it read, that
// event (a slice of buf; nil when it stopped for another reason) and what
// it was. It stops early, as Content, when buf is full or when
// more than hold has passed since start: what it holds must then go to the
// client as it is. An error from src ends it with what was read; io.EOF
// counts as Content (the stream ended as it should, only early).
//
// Failed means no byte of content exists yet: the stream can be dropped
// and the request tried elsewhere.
func Head(src io.Reader, buf []byte, judge func(ev []byte) Opening, start time.Time, hold time.Duration, now func() time.Time) (n int, ev []byte, o Opening, err error) {
	scanned, cut := 0, 0
	for {
		m, rerr := src.Read(buf[n:])
		n += m
		for {
			i := boundary(buf[cut:n], max(scanned-3, cut)-cut)
			if i < 0 {
				break
			}
			if o := judge(buf[cut : cut+i]); o != Preamble {
				return n, buf[cut : cut+i], o, nil
			}
			cut += i
		}
		scanned = n
		switch {
		case rerr != nil && errors.Is(rerr, io.EOF):
			return n, nil, Content, nil
		case rerr != nil:
			return n, nil, Content, rerr
		case n == len(buf), now().Sub(start) > hold:
			return n, nil, Content, nil
		}
	}
}
