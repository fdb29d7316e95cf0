package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func judgeByName(ev []byte) Opening {
	switch string(Field(ev, "event")) {
	case "start", "ping":
		return Preamble
	case "error":
		return Failed
	}
	return Content
}

func TestHead(t *testing.T) {
	t0 := time.Unix(1764000000, 0)
	tests := []struct {
		name    string
		stream  string
		bufSize int
		elapsed time.Duration // what the clock says at every check
		want    Opening
		wantEv  string
		wantN   int // -1: the whole stream
	}{
		{"opening then content", "event: start\ndata: {}\n\nevent: ping\ndata: {}\n\nevent: delta\ndata: {\"text\":\"a\"}\n\nevent: delta\ndata: {}\n\n", 4096, 0, Content, "event: delta\ndata: {\"text\":\"a\"}\n\n", -1},
		{"opening then error", "event: start\ndata: {}\n\nevent: error\ndata: {\"type\":\"overloaded_error\"}\n\n", 4096, 0, Failed, "event: error\ndata: {\"type\":\"overloaded_error\"}\n\n", -1},
		{"error first, CRLF", "event: error\r\ndata: {}\r\n\r\n", 4096, 0, Failed, "event: error\r\ndata: {}\r\n\r\n", -1},
		{"ends in the opening", "event: start\ndata: {}\n\n", 4096, 0, Content, "", -1},
		{"opening fills the buffer", strings.Repeat("event: ping\ndata: {}\n\n", 20) + "event: error\ndata: {}\n\n", 64, 0, Content, "", 64},
		{"opening takes too long", "event: start\ndata: {}\n\nevent: ping\ndata: {}\n\nevent: error\ndata: {}\n\n", 4096, 4 * time.Second, Content, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := iotest.OneByteReader(strings.NewReader(tt.stream)) // events split across reads
			buf := make([]byte, tt.bufSize)
			now := func() time.Time { return t0.Add(tt.elapsed) }
			n, ev, o, err := Head(src, buf, judgeByName, t0, 3*time.Second, now)
			if err != nil {
				t.Fatalf("Head err = %v, want nil", err)
			}
			if o != tt.want || string(ev) != tt.wantEv {
				t.Errorf("Head = %v %q, want %v %q", o, ev, tt.want, tt.wantEv)
			}
			wantN := tt.wantN
			if wantN < 0 {
				wantN = len(tt.stream)
				if tt.wantEv != "" {
					wantN = strings.Index(tt.stream, tt.wantEv) + len(tt.wantEv)
				}
			}
			if n != wantN || string(buf[:n]) != tt.stream[:n] {
				t.Errorf("Head read %d bytes, want the stream's first %d", n, wantN)
			}
		})
	}
}

func TestHeadReadError(t *testing.T) {
	broken := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("event: start\ndata: {}\n\n"), iotest.ErrReader(broken))
	n, ev, _, err := Head(src, make([]byte, 4096), judgeByName, time.Now(), time.Hour, time.Now)
	if !errors.Is(err, broken) || ev != nil || n != 23 {
		t.Errorf("Head = %d bytes, %q, %v; want 23, nil, the read error", n, ev, err)
	}
}
