package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/app/store/journal"
	"keypool/relay/record"
)

const (
	// maxBatch bounds how many queued ops one transaction commits.
	maxBatch = 256
	// batchWait is how long the writer waits for more ops after the first
	// before committing. A record is safe from a kill once journaled; the
	// commit, with its two fsyncs, is what costs, so a burst of requests
	// shares one. It stays under the window's settle time (ui), so the
	// refresh a record causes finds it committed. At 5 ms the commit of
	// one answer landed on the next one's first word.
	batchWait = 100 * time.Millisecond
	// warnEvery rate-limits the "queue full" warning.
	warnEvery = 10 * time.Second
)

// op is one queued write, as journaled, or a flush marker: an op with done
// set, which writes nothing and is answered on done once everything queued
// before it is committed. It travels by value so Record allocates only the
// encoded record.
type op struct {
	journal.Entry
	seg  uint64             // journal segment holding the op; 0 if not journaled
	rec  record.UsageRecord // Usage, for the per-day totals (Failover too: each step counts on its account)
	done chan error         // flush markers only; buffered(1)
}

// isFlush reports whether o is a flush marker.
func (o *op) isFlush() bool { return o.done != nil }

// writer is the store's write path: the queue that Record and Put feed, the
// journal that keeps queued writes across a kill, and the commits, made by
// Run's loop or by a Flush or Close while no Run is active, that hold and
// retry writes while the disk refuses them and count the ones given up.
//
// Locks: writeMu orders commits and guards the run and commit state; jmu
// guards the journal and orders journal appends with queue sends. Lock
// order: the store's bmu, then writeMu, then jmu. health has a lock of its
// own, so that reading it never waits on a commit.
type writer struct {
	db       *bolt.DB
	path     string
	readOnly bool // no queue and no journal: nothing is ever written
	log      *slog.Logger
	now      func() time.Time

	queue    chan op
	dropped  atomic.Uint64 // usage records not queued
	lost     atomic.Uint64 // usage records given up after failed writes
	lastWarn atomic.Int64  // UnixNano of the last "queue full" warning
	closed   atomic.Bool
	closing  chan struct{} // closed by close; stops Run

	// writeMu is held while ops are taken from the queue and committed
	// outside Run's loop, around each of Run's commits, and while the run
	// state changes. It keeps commits in queue order.
	writeMu sync.Mutex
	// Guarded by writeMu: whether a Run loop owns the queue, ops whose
	// commit failed, oldest first, and the retry state.
	running      bool
	runDone      chan struct{} // closed when the current Run has returned
	held         []op
	writeErr     error
	failingSince time.Time
	retryAt      time.Time
	backoff      time.Duration
	lostFlushed  uint64    // lost as of the last Flush that reported it
	lostLogged   uint64    // lost as of the last "lost" log line
	lostLoggedAt time.Time // when that line was written
	heldMax      int       // maxHeld; tests lower it
	dbClosed     bool

	jmu        sync.Mutex
	journal    *journal.Journal // nil on a read-only store
	journalErr error            // last append error; nil while appends work

	health healthState
}

func newWriter(db *bolt.DB, path string, readOnly bool, opts Options) *writer {
	w := &writer{
		db:       db,
		path:     path,
		readOnly: readOnly,
		log:      opts.Logger,
		now:      opts.Now,
		closing:  make(chan struct{}),
		heldMax:  maxHeld,
	}
	if !readOnly {
		w.queue = make(chan op, opts.QueueSize)
	}
	return w
}

// accepting reports whether Record and Put may queue writes: the store is
// writable and not closed.
func (w *writer) accepting() bool { return !w.readOnly && !w.closed.Load() }

// Record journals r and queues it for the writer, then returns: it never
// waits on the disk beyond one buffered write(2) to the journal, which is
// what lets r survive a kill -9 the moment Record returns. If the queue is
// full the record is dropped, counted in Dropped and reported in a warning at
// most once per 10 s. A zero r.Time is stamped with the store's clock. On a
// closed or read-only store Record does nothing.
func (s *Store) Record(r record.UsageRecord) {
	if !s.w.accepting() {
		return
	}
	if r.Time.IsZero() {
		r.Time = s.now()
	}
	v, err := json.Marshal(r)
	if err != nil {
		s.log.Warn("skip usage record", "path", s.path, "err", err)
		return
	}
	o := op{Entry: journal.Entry{Kind: journal.Usage, Value: v}, rec: r}
	binary.BigEndian.PutUint64(o.Key[:8], uint64(r.Time.UnixNano()))
	binary.BigEndian.PutUint64(o.Key[8:], s.seq.Add(1))
	if !s.w.submit(o) {
		s.w.dropped.Add(1)
		s.w.warnFull("usage queue full, dropping records")
	}
}

// Dropped reports how many usage records Record has discarded because the
// write queue was full.
func (s *Store) Dropped() uint64 { return s.w.dropped.Load() }

// Run commits queued writes until ctx is done or the store is closed, then
// commits what is still queued and returns. Each transaction takes one op and
// whatever else is already waiting, up to 256. Failed writes are logged, held
// and retried (see commitLocked); Run returns nil unless writes are still
// failing when it stops.
// Only one Run may be active at a time.
func (s *Store) Run(ctx context.Context) error { return s.w.run(ctx) }

// Flush waits until every op queued before the call has been tried, retrying
// held ones at once. It returns nil if they are all in the file; otherwise an
// error wrapping ErrHeld (writes are failing; the ops wait in memory) and, if
// records were given up since the previous Flush, ErrLost. If Run is active,
// Flush queues a marker and waits for the writer to reach it; otherwise it
// commits the queue itself.
func (s *Store) Flush(ctx context.Context) error { return s.w.flush(ctx) }

// submit appends o to the journal and queues it, both under jmu so that the
// journal and the queue see ops in the same order. It reports false, leaving
// nothing queued, when the queue is full.
func (w *writer) submit(o op) bool {
	w.jmu.Lock()
	defer w.jmu.Unlock()
	if len(w.queue) == cap(w.queue) {
		return false
	}
	if w.journal != nil {
		seg, err := w.journal.Append(&o.Entry)
		w.noteJournalLocked(err)
		o.seg = seg
	}
	select {
	case w.queue <- o:
		return true
	default:
		// A Flush marker took the last slot; the line stays in the journal
		// and is replayed at the next Open if the process dies first.
		if w.journal != nil {
			w.journal.Done(o.seg)
		}
		return false
	}
}

// noteJournalLocked logs when journal appends start or stop failing. The
// caller holds jmu.
func (w *writer) noteJournalLocked(err error) {
	was := w.journalErr
	w.journalErr = err
	switch {
	case err != nil && was == nil:
		w.log.Error("cannot append to the usage journal; new records are kept in memory until the database takes them, and would be lost if Keypool were killed",
			"path", w.path, "err", err)
		w.health.set(func(h *WriteHealth) { h.JournalError = err.Error() })
	case err == nil && was != nil:
		w.log.Info("usage journal writable again", "path", w.path)
		w.health.set(func(h *WriteHealth) { h.JournalError = "" })
	}
}

// warnFull logs msg at most once per warnEvery.
func (w *writer) warnFull(msg string) {
	now := w.now().UnixNano()
	last := w.lastWarn.Load()
	if last != 0 && now-last < int64(warnEvery) {
		return
	}
	if !w.lastWarn.CompareAndSwap(last, now) {
		return // another goroutine is warning
	}
	w.log.Warn(msg, "path", w.path, "queue_size", cap(w.queue), "dropped_records_total", w.dropped.Load())
}

// run is Store.Run.
func (w *writer) run(ctx context.Context) error {
	if w.readOnly {
		select {
		case <-ctx.Done():
		case <-w.closing:
		}
		return nil
	}

	w.writeMu.Lock() // wait for a Flush or Close that is committing
	var err error
	switch {
	case w.closed.Load():
		err = ErrClosed
	case w.running:
		err = errors.New("store: Run is already running")
	default:
		w.running = true
		w.runDone = make(chan struct{})
	}
	runDone := w.runDone
	w.writeMu.Unlock()
	if err != nil {
		return err
	}

	batch := make([]op, 0, maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
loop:
	for {
		// While writes fail, wake up to retry them even if nothing new comes.
		w.writeMu.Lock()
		if len(w.held) > 0 {
			retry.Reset(max(time.Until(w.retryAt), time.Millisecond))
		}
		w.writeMu.Unlock()
		select {
		case <-ctx.Done():
			break loop
		case <-w.closing:
			break loop
		case <-retry.C:
			w.writeMu.Lock()
			w.commitLocked(nil)
			w.writeMu.Unlock()
		case o := <-w.queue:
			retry.Stop()
			batch = w.linger(ctx, append(batch[:0], o), linger)
			w.writeMu.Lock()
			batch = w.fill(batch, maxBatch)
			w.commitLocked(batch)
			w.writeMu.Unlock()
			clear(batch) // drop references to records already written
		}
	}

	w.writeMu.Lock()
	w.running = false
	err = w.drainLocked()
	w.writeMu.Unlock()
	close(runDone)
	return err
}

// flush is Store.Flush.
func (w *writer) flush(ctx context.Context) error {
	if w.readOnly {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.writeMu.Lock()
		running, runDone := w.running, w.runDone
		if w.dbClosed || (!running && w.closed.Load()) {
			w.writeMu.Unlock()
			return ErrClosed
		}
		if !running {
			err := w.drainLocked()
			w.writeMu.Unlock()
			return err
		}
		w.writeMu.Unlock()

		done := make(chan error, 1)
		select {
		case w.queue <- op{done: done}:
		case <-runDone:
			continue // the writer stopped while the queue was full
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-runDone:
			select {
			case err := <-done:
				return err
			default:
				// The writer stopped before it reached the marker; go round
				// and commit the rest here.
			}
		}
	}
}

// linger collects ops for up to batchWait after the first, so that under
// load one commit (and its fsync) carries many records instead of each
// paying for its own. A flush marker, a full batch or shutdown ends it early.
func (w *writer) linger(ctx context.Context, batch []op, t *time.Timer) []op {
	if batch[len(batch)-1].isFlush() {
		return batch
	}
	t.Reset(batchWait)
	defer t.Stop()
	for len(batch) < maxBatch {
		select {
		case o := <-w.queue:
			batch = append(batch, o)
			if o.isFlush() {
				return batch
			}
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		case <-w.closing:
			return batch
		}
	}
	return batch
}

// fill appends queued ops to batch, without waiting, until it holds limit.
func (w *writer) fill(batch []op, limit int) []op {
	for len(batch) < limit {
		select {
		case o := <-w.queue:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// drainLocked commits the ops queued at the time of the call, after
// retrying any held ones, and returns the error Flush would. The caller holds
// writeMu and no Run loop is active.
func (w *writer) drainLocked() error {
	if w.dbClosed {
		return ErrClosed
	}
	if len(w.held) > 0 {
		w.retryHeld()
	}
	batch := make([]op, 0, maxBatch)
	for n := len(w.queue); n > 0; {
		batch = w.fill(batch[:0], min(n, maxBatch))
		if len(batch) == 0 {
			break
		}
		n -= len(batch)
		w.commitLocked(batch)
	}
	return w.flushErrLocked()
}

// close stops a running Run, commits whatever is still queued, closes the
// journal and then the file. Store.Close calls it once.
func (w *writer) close() error {
	w.writeMu.Lock()
	w.closed.Store(true)
	running, runDone := w.running, w.runDone
	w.writeMu.Unlock()
	close(w.closing)
	if running {
		<-runDone // Run sees closing, commits what is queued and returns
	}

	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	var drainErr error
	if !w.readOnly {
		drainErr = w.drainLocked()
		w.closeJournalLocked()
	}
	w.dbClosed = true
	if err := w.db.Close(); err != nil {
		return errors.Join(drainErr, fmt.Errorf("close %s: %w", w.path, err))
	}
	return drainErr
}

// closeJournalLocked closes the journal after the final drain and reports
// writes that never reached the file: those still in the journal are
// replayed at the next Open; the rest are lost. The caller holds writeMu.
func (w *writer) closeJournalLocked() {
	w.jmu.Lock()
	kept := w.journal.Close()
	w.jmu.Unlock()
	w.logLostLocked()
	if len(w.held) == 0 {
		return
	}
	var lost uint64
	for _, o := range w.held {
		if o.seg == 0 && o.Kind == journal.Usage {
			lost++
		}
	}
	w.lost.Add(lost)
	w.log.Error("closing with writes that never reached the database",
		"path", w.path, "held", len(w.held), "kept_in_journal_for_next_start", kept, "usage_records_lost", lost, "err", w.writeErr)
}
