// Package store keeps Keypool's state in one bbolt file: account metadata,
// client key names, app settings, per-request usage records, per-day totals
// and sticky session bindings. It implements record.UsageSink and
// sched.Bindings; their writes are journaled (package journal), queued
// without blocking the caller and committed by a single writer (Run). No
// secret is ever stored.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"keypool/relay/record"
	"keypool/relay/sched"
)

// Sentinel errors. Open and OpenReadOnly wrap them with the file's path.
var (
	// ErrLocked means another process holds the file: most likely another
	// Keypool running on the same data dir.
	ErrLocked = errors.New("locked by another process")
	// ErrCorrupt means the file is not a bbolt database Keypool can read.
	// The file is left as it was; it is never reset.
	ErrCorrupt = errors.New("not a valid Keypool database")
	// ErrClosed is returned by Run and Flush after Close.
	ErrClosed = errors.New("store closed")
	// ErrHeld means writes are failing (disk full, read-only file system)
	// and the ops are waiting in memory; they are retried and land once the
	// file can be written.
	ErrHeld = errors.New("held in memory, not yet in the file")
	// ErrLost means usage records were given up: writes failed for so long
	// that holding more would cost unbounded memory.
	ErrLost = errors.New("lost: writes failed for too long to keep holding them")
)

// Bucket names and the schema version written to meta/schema.
var (
	bucketMeta       = []byte("meta")
	bucketBindings   = []byte("bindings")
	bucketUsage      = []byte("usage")
	bucketDaily      = []byte("daily")
	bucketAccounts   = []byte("accounts")
	bucketClientKeys = []byte("clientkeys")
	bucketSettings   = []byte("settings")

	// allBuckets are created at Open. A file written by an older Keypool
	// may lack the later ones: a read-only open finds them missing.
	allBuckets = [][]byte{bucketMeta, bucketBindings, bucketUsage, bucketDaily, bucketAccounts, bucketClientKeys, bucketSettings}

	keySchema     = []byte("schema")
	schemaVersion = []byte("1")
)

const (
	defaultTimeout   = time.Second
	defaultQueueSize = 4096
	// sweepEvery is how many Puts pass between sweeps of expired bindings
	// from memory.
	sweepEvery = 1024
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock; zero or less means 1s.
	Timeout time.Duration
	// Logger receives warnings (queue full) and write errors; nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock used for binding expiry and rate limits; nil means
	// time.Now.
	Now func() time.Time
	// QueueSize is the capacity of the write queue; zero or less means 4096.
	QueueSize int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = defaultQueueSize
	}
	return o
}

// Store is Keypool's bbolt file. Record, Put and Get are safe for concurrent
// use and never wait on disk; Run commits what they queue.
//
// The Store itself holds the file, the usage key sequence and the bindings
// kept in memory (bmu guards them, and is taken before any of the writer's
// locks); its writes go through w.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool
	log      *slog.Logger
	now      func() time.Time
	seq      atomic.Uint64 // last usage key sequence handed out

	bmu      sync.RWMutex
	bindings map[string]sched.Binding
	puts     int // Puts since the last sweep; guarded by bmu

	w *writer

	closeOnce sync.Once
	closeErr  error
}

var (
	_ record.UsageSink = (*Store)(nil)
	_ sched.Bindings   = (*Store)(nil)
)

// Open opens the bbolt file at path, creating it (mode 0600, parent
// directories 0700) if needed, creates every bucket and the schema version in
// one transaction, and loads the unexpired session bindings into memory,
// deleting the expired ones from the file.
//
// If another process holds the file for longer than opts.Timeout, the error
// wraps ErrLocked. If the file is not a bbolt database, the error wraps
// ErrCorrupt and the file is left untouched.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, openError(path, fmt.Errorf("open %s: %w", path, err))
	}
	if runtime.GOOS == "windows" {
		// There bbolt grows the file to its first mapping before it checks
		// it: a damaged file is checked read-only first, so that it is
		// left as it was.
		if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
			ro, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: true})
			if err != nil {
				return nil, openError(path, err)
			}
			ro.Close()
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		return nil, openError(path, err)
	}
	s := newStore(db, path, false, opts)
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.replayJournal(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// OpenReadOnly opens an existing file for queries only, sharing the file with
// other readers, for `keypool status` when no relay is running. A relay that
// has the file open makes it fail with ErrLocked after timeout (zero or less
// means 1s).
//
// On a read-only store Record does nothing, Put changes only the in-memory
// map, Flush returns nil at once and Run just waits for its context; nothing
// is ever written.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	opts := Options{Timeout: timeout}.withDefaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: true})
	if err != nil {
		return nil, openError(path, err)
	}
	s := newStore(db, path, true, opts)
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func newStore(db *bolt.DB, path string, readOnly bool, opts Options) *Store {
	return &Store{
		db:       db,
		path:     path,
		readOnly: readOnly,
		log:      opts.Logger,
		now:      opts.Now,
		bindings: make(map[string]sched.Binding),
		w:        newWriter(db, path, readOnly, opts),
	}
}

// openError turns a bbolt open error into one that names the file and says
// what to do.
func openError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open %s: %w (is another Keypool running on this data dir?)", path, ErrLocked)
	case isCorrupt(err):
		return corruptError(path, err)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w (free some disk space, or choose another data dir with --data-dir)", err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (Keypool must be able to write its data dir %s: make it writable, or choose another with --data-dir)",
			err, filepath.Dir(path))
	case errors.As(err, &pe):
		return err // already "open <path>: <reason>"
	default:
		return fmt.Errorf("open %s: %w", path, err)
	}
}

func corruptError(path string, err error) error {
	return fmt.Errorf("open %s: %w (the file was NOT modified; keep it aside to start with an empty store, e.g. mv %s %s.corrupt): %w",
		path, ErrCorrupt, path, path, err)
}

// MoveAside renames a database Open refused as corrupt to
// path.corrupt-YYYYMMDD-HHMMSS, beside it, so that the next Open starts an
// empty store while the damaged file is kept for inspection or recovery. It
// returns the new name. Journal segments stay: they replay into the new
// file, which keeps the last usage records.
func MoveAside(path string, now time.Time) (string, error) {
	to := path + ".corrupt-" + now.Format("20060102-150405")
	if _, err := os.Lstat(to); err == nil {
		return "", fmt.Errorf("keep %s aside: %s already exists", path, to)
	}
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("keep %s aside: %w", path, err)
	}
	return to, nil
}

// isCorrupt reports whether bbolt refused the file's contents.
func isCorrupt(err error) bool {
	switch {
	case errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrInvalidMapping):
		return true
	}
	// bbolt has no sentinel for a file shorter than two pages.
	return strings.Contains(err.Error(), "file size too small")
}

// init checks the schema, loads the bindings and the usage sequence, and on
// a writable store creates what is missing and deletes expired bindings. A
// file that already has everything needs no write to open, so Keypool starts
// even on a full disk. A panic from bbolt on a damaged page is reported as
// ErrCorrupt; the transaction is rolled back, so the file is unchanged.
func (s *Store) init() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(s.path, fmt.Errorf("%v", r))
		}
	}()
	now := s.now()
	var stale [][]byte
	complete := true
	err = s.db.View(func(tx *bolt.Tx) error {
		if err := s.checkSchema(tx); err != nil {
			return err
		}
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				complete = false
			}
		}
		if complete && tx.Bucket(bucketMeta).Get(keySchema) == nil {
			complete = false
		}
		if ub := tx.Bucket(bucketUsage); ub != nil {
			s.seq.Store(ub.Sequence())
		}
		var err error
		stale, err = s.loadBindings(tx, now)
		return err
	})
	if err != nil || s.readOnly {
		return err
	}
	if !complete {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			meta := tx.Bucket(bucketMeta)
			if meta.Get(keySchema) == nil {
				return meta.Put(keySchema, schemaVersion)
			}
			return nil
		})
		if err != nil {
			return openError(s.path, fmt.Errorf("open %s: set up: %w", s.path, err))
		}
	}
	if len(stale) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketBindings)
			for _, k := range stale {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("could not delete expired bindings from the file; they are ignored and deleted at a later start",
				"path", s.path, "err", err)
		}
	}
	return nil
}

func (s *Store) checkSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil // a new file
	}
	v := meta.Get(keySchema)
	if v == nil || string(v) == string(schemaVersion) {
		return nil
	}
	return fmt.Errorf("open %s: schema version %q is not supported by this Keypool (it reads %q); the file was not modified",
		s.path, v, schemaVersion)
}

// Path returns the file's path as given to Open.
func (s *Store) Path() string { return s.path }

// Close stops a running Run, commits whatever is still queued and closes the
// file. Callers should stop Run first; Close is safe to call more than once and
// returns the first call's error every time.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.w.close() })
	return s.closeErr
}
