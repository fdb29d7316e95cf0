package app

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// DefaultLogMax is the size at which the desktop app's log file is rotated.
const DefaultLogMax = 5 << 20

// LogFile is the desktop app's log: a file (mode 0600) that keeps what
// happened when Keypool runs with no terminal to read. When it would grow
// past its limit it is renamed to path + ".1", replacing the one before, so
// at most twice the limit is kept. It is safe for concurrent use and starts
// no goroutine. Keypool's logs carry no secret.
type LogFile struct {
	path string
	max  int64

	mu     sync.Mutex
	f      *os.File // nil between a rotation and the next Write
	size   int64
	failed bool // the last rotation failed
	closed bool
}

// LogPath is where the desktop app logs for the database at dbPath.
func LogPath(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), "keypool.log") }

// OpenLogFile opens path for appending, creating it and its directory.
// limit <= 0 means DefaultLogMax.
func OpenLogFile(path string, limit int64) (*LogFile, error) {
	if limit <= 0 {
		limit = DefaultLogMax
	}
	l := &LogFile{path: path, max: limit}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log %s: %w", l.path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log %s: %w", l.path, err)
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Write appends p, rotating first if p would take the file past its limit.
// A rotation that fails (another program holding the backup open, say)
// leaves the file growing until the next try.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	if l.f != nil && l.size > 0 && l.size+int64(len(p)) > l.max {
		l.rotate()
	}
	if l.f == nil {
		if err := l.open(); err != nil {
			return 0, err
		}
		if l.failed {
			l.size, l.failed = 0, false // try rotating again after max more bytes
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate moves the file to the backup name and starts a new one. On any
// failure the current file stays (or is reopened by the next Write).
func (l *LogFile) rotate() {
	l.f.Close()
	l.f = nil
	l.failed = os.Rename(l.path, l.path+".1") != nil
}

// Path is the file's path.
func (l *LogFile) Path() string { return l.path }

// Close closes the file; later writes fail.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
