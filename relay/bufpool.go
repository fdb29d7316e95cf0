package relay

import (
	"bytes"
	"sync"
)

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { return bufs.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // don't keep rare giants alive
	}
	b.Reset()
	bufs.Put(b)
}

// copyBufs are io.CopyBuffer buffers for non-streaming answers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
