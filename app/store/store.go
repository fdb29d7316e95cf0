// Package store keeps Keypool's state in one bbolt file: per-request usage
// records, per-day totals and sticky session bindings. It implements
// relay.UsageSink and sched.Bindings; writes are queued without blocking the
// caller and committed by a single writer (Run). No secret is ever stored.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/relay"
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
)

// Bucket names and the schema version written to meta/schema.
var (
	bucketMeta     = []byte("meta")
	bucketBindings = []byte("bindings")
	bucketUsage    = []byte("usage")
	bucketDaily    = []byte("daily")
	bucketAccounts = []byte("accounts")

	allBuckets = [][]byte{bucketMeta, bucketBindings, bucketUsage, bucketDaily, bucketAccounts}

	keySchema     = []byte("schema")
	schemaVersion = []byte("1")
)

const (
	defaultTimeout   = time.Second
	defaultQueueSize = 4096
	// maxBatch bounds how many queued ops one transaction commits.
	maxBatch = 256
	// batchWait is how long the writer waits for more ops after the first
	// before committing: the most a record waits to reach the disk.
	batchWait = 5 * time.Millisecond
	// warnEvery rate-limits the "queue full" warning.
	warnEvery = 10 * time.Second
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
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool
	log      *slog.Logger
	now      func() time.Time

	queue    chan op
	dropped  atomic.Uint64 // usage records not queued
	lastWarn atomic.Int64  // UnixNano of the last "queue full" warning
	closed   atomic.Bool
	closing  chan struct{} // closed by Close; stops Run

	bmu      sync.RWMutex
	bindings map[string]sched.Binding
	puts     int // Puts since the last sweep; guarded by bmu

	mu      sync.Mutex    // guards running and runDone
	running bool          // a Run loop owns the queue
	runDone chan struct{} // closed when the current Run has returned

	// writeMu is held while ops are taken from the queue and committed
	// outside Run's loop, and around each of Run's commits. It keeps commits
	// in queue order.
	writeMu    sync.Mutex
	pendingErr error // first commit error since the last Flush; guarded by writeMu
	dbClosed   bool  // guarded by writeMu

	closeOnce sync.Once
	closeErr  error
}

var (
	_ relay.UsageSink = (*Store)(nil)
	_ sched.Bindings  = (*Store)(nil)
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
		return nil, fmt.Errorf("open %s: %w", path, err)
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
	s := &Store{
		db:       db,
		path:     path,
		readOnly: readOnly,
		log:      opts.Logger,
		now:      opts.Now,
		closing:  make(chan struct{}),
		bindings: make(map[string]sched.Binding),
	}
	if !readOnly {
		s.queue = make(chan op, opts.QueueSize)
	}
	return s
}

// openError turns a bbolt open error into one that names the file and says
// what to do.
func openError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return fmt.Errorf("open %s: %w (is another Keypool running on this data dir?)", path, ErrLocked)
	case isCorrupt(err):
		return corruptError(path, err)
	case errors.As(err, &pe):
		return err // already "open <path>: <reason>"
	default:
		return fmt.Errorf("open %s: %w", path, err)
	}
}

func corruptError(path string, err error) error {
	return fmt.Errorf("open %s: %w (the file was NOT modified; move it aside to start with an empty store): %w",
		path, ErrCorrupt, err)
}

// isCorrupt reports whether bbolt refused the file's contents.
func isCorrupt(err error) bool {
	switch {
	case errors.Is(err, bolt.ErrInvalid),
		errors.Is(err, bolt.ErrChecksum),
		errors.Is(err, bolt.ErrVersionMismatch),
		errors.Is(err, bolt.ErrInvalidMapping):
		return true
	}
	// bbolt has no sentinel for a file shorter than two pages.
	return strings.Contains(err.Error(), "file size too small")
}

// init checks the schema, creates the buckets (read-write only) and loads the
// bindings. A panic from bbolt on a damaged page is reported as ErrCorrupt;
// the transaction is rolled back, so the file is unchanged.
func (s *Store) init() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(s.path, fmt.Errorf("%v", r))
		}
	}()
	now := s.now()
	if s.readOnly {
		return s.db.View(func(tx *bolt.Tx) error {
			if err := s.checkSchema(tx); err != nil {
				return err
			}
			_, err := s.loadBindings(tx, now)
			return err
		})
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := s.checkSchema(tx); err != nil {
			return err
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("open %s: create bucket %s: %w", s.path, name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keySchema) == nil {
			if err := meta.Put(keySchema, schemaVersion); err != nil {
				return fmt.Errorf("open %s: write schema: %w", s.path, err)
			}
		}
		stale, err := s.loadBindings(tx, now)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketBindings)
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("open %s: delete expired binding: %w", s.path, err)
			}
		}
		return nil
	})
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
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.mu.Lock()
	s.closed.Store(true)
	running, runDone := s.running, s.runDone
	s.mu.Unlock()
	close(s.closing)
	if running {
		<-runDone // Run sees closing, commits what is queued and returns
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var drainErr error
	if !s.readOnly {
		drainErr = s.drainLocked()
	}
	s.dbClosed = true
	if err := s.db.Close(); err != nil {
		return errors.Join(drainErr, fmt.Errorf("close %s: %w", s.path, err))
	}
	return drainErr
}
