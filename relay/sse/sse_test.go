package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunked reads src in pieces of the given sizes, cycling.
type chunked struct {
	src   []byte
	sizes []int
	i     int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.src))
	c.i++
	copy(p, c.src[:n])
	c.src = c.src[n:]
	return n, nil
}

// flushLog records what had been written at each flush.
type flushLog struct {
	bytes.Buffer
	flushes []int
}

func (f *flushLog) flush() error { f.flushes = append(f.flushes, f.Len()); return nil }

func TestCopy(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		events []string // what tap must see
	}{
		{"lf", "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n", []string{"event: a\ndata: 1\n\n", "event: b\ndata: 2\n\n"}},
		{"crlf", "data: 1\r\n\r\ndata: 2\r\n\r\n", []string{"data: 1\r\n\r\n", "data: 2\r\n\r\n"}},
		{"cr", "data: 1\r\rdata: 2\r\r", []string{"data: 1\r\r", "data: 2\r\r"}},
		{"comment_and_no_final_blank", ": hi\n\ndata: x", []string{": hi\n\n", "data: x"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		for _, sizes := range [][]int{{1}, {2, 3}, {7}, {1 << 20}} {
			name := tt.name + "_reads"
			for _, s := range sizes {
				name += fmt.Sprintf("_%d", s)
			}
			t.Run(name, func(t *testing.T) {
				var out flushLog
				var seen []string
				n, err := Copy(&out, &chunked{src: []byte(tt.in), sizes: sizes}, out.flush, func(ev []byte) { seen = append(seen, string(ev)) })
				if err != nil || n != int64(len(tt.in)) || out.String() != tt.in {
					t.Fatalf("sizes %v: got %q (%d, %v), want %q", sizes, out.String(), n, err, tt.in)
				}
				if strings.Join(seen, "|") != strings.Join(tt.events, "|") {
					t.Errorf("sizes %v: tap saw %q, want %q", sizes, seen, tt.events)
				}
			})
		}
	}
}

// Every flush ends at an event boundary, so a client never sees half an
// event and then waits.
func TestCopyFlushesAtBoundaries(t *testing.T) {
	var in strings.Builder
	for i := range 50 {
		in.WriteString("event: e\ndata: " + strings.Repeat("x", i*7) + "\n\n")
	}
	var out flushLog
	if _, err := Copy(&out, &chunked{src: []byte(in.String()), sizes: []int{13, 5, 101}}, out.flush, nil); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, at := range out.flushes {
		if at < 2 || s[at-2:at] != "\n\n" {
			t.Fatalf("flush at byte %d, after %q; want every flush right after a blank line", at, s[max(at-2, 0):at])
		}
	}
}

func TestCopyLargeEvent(t *testing.T) {
	big := "data: " + strings.Repeat("y", 3*bufSize) + "\n\n" + "event: message_delta\ndata: {}\n\n"
	var out flushLog
	var seen []string
	if _, err := Copy(&out, iotest.HalfReader(strings.NewReader(big)), out.flush, func(ev []byte) { seen = append(seen, string(ev)) }); err != nil {
		t.Fatal(err)
	}
	if out.String() != big {
		t.Fatalf("Copy wrote %d bytes differing from its input of %d, want them unchanged", out.Len(), len(big))
	}
	if len(seen) != 1 || seen[0] != "event: message_delta\ndata: {}\n\n" {
		t.Errorf("tap saw %d events (%.40q), want only the small one after the large", len(seen), seen)
	}
}

func TestCopyReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: 1\n\ndata: par"), iotest.ErrReader(boom))
	var out flushLog
	_, err := Copy(&out, r, out.flush, nil)
	if !errors.Is(err, boom) || out.String() != "data: 1\n\n" {
		t.Fatalf("Copy = %v, wrote %q; want boom, \"data: 1\\n\\n\" (only the whole event)", err, out.String())
	}
}

func TestField(t *testing.T) {
	ev := []byte("event: message_delta\r\ndata:{\"a\":1}\n")
	if got := string(Field(ev, "event")); got != "message_delta" {
		t.Errorf("Field(event) = %q, want message_delta", got)
	}
	if got := string(Field(ev, "data")); got != `{"a":1}` {
		t.Errorf("Field(data) = %q, want %q", got, `{"a":1}`)
	}
	if got := Field(ev, "id"); got != nil {
		t.Errorf("Field(id) = %q, want nil", got)
	}
}

// FuzzCopy: whatever the bytes and however they are split, Copy writes them
// unchanged and every tapped event is a contiguous piece of the input.
func FuzzCopy(f *testing.F) {
	f.Add([]byte("event: a\ndata: 1\n\n"), uint8(3))
	f.Add([]byte("data: 1\r\n\r\ndata: 2\r\r: c\n\n"), uint8(1))
	f.Add([]byte("\n\n\n\r\r\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		sizes := []int{int(step%17) + 1, int(step%5) + 1}
		var out flushLog
		var total int
		_, err := Copy(&out, &chunked{src: in, sizes: sizes}, out.flush, func(ev []byte) {
			if !bytes.Contains(in, ev) {
				t.Fatalf("tapped %q, want a piece of the input %q", ev, in)
			}
			total += len(ev)
		})
		if err != nil || !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("Copy(%q) wrote %q, %v; want the input unchanged, nil", in, out.Bytes(), err)
		}
		if total != len(in) {
			t.Fatalf("tap saw %d bytes, want all %d", total, len(in))
		}
	})
}

func BenchmarkCopy(b *testing.B) {
	var in strings.Builder
	for range 200 {
		in.WriteString(`event: content_block_delta` + "\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello world "}}` + "\n\n")
	}
	src := []byte(in.String())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Copy(io.Discard, &chunked{src: src, sizes: []int{512}}, func() error { return nil }, func([]byte) {})
	}
}

// A blank line split across reads right after a large event is still found,
// so the next event is tapped and flushed on time.
func TestCopyBoundaryAfterLargeEvent(t *testing.T) {
	large := "data: " + strings.Repeat("z", bufSize-7) + "\n" // exactly fills the buffer with its first newline
	small := "event: message_delta\ndata: {}\n\n"
	in := large + "\n" + small
	r := io.MultiReader(strings.NewReader(large), strings.NewReader("\n"+small))
	var out flushLog
	var seen []string
	if _, err := Copy(&out, r, out.flush, func(ev []byte) { seen = append(seen, string(ev)) }); err != nil {
		t.Fatal(err)
	}
	if out.String() != in {
		t.Fatalf("Copy wrote %d bytes differing from its input of %d, want them unchanged", out.Len(), len(in))
	}
	if len(seen) != 1 || seen[0] != small {
		t.Errorf("tap saw %q, want only %q", seen, small)
	}
	if last := out.flushes[len(out.flushes)-1]; last != len(in) {
		t.Errorf("last flush at byte %d, want at the end, %d", last, len(in))
	}
}

func TestTransform(t *testing.T) {
	in := "event: a\ndata: 1\n\nevent: b\ndata: " + strings.Repeat("x", 3*bufSize) + "\n\ndata: tail"
	var out flushLog
	_, err := Transform(&out, &chunked{src: []byte(in), sizes: []int{5, 700}}, out.flush, func(dst, ev []byte) ([]byte, error) {
		return append(dst, fmt.Sprintf("[%d:%s]", len(ev), Field(ev, "event"))...), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[18:a][%d:b][10:]", len("event: b\ndata: ")+3*bufSize+2)
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
