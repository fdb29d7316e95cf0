package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/relay"
)

type opKind uint8

const (
	opUsage       opKind = iota + 1 // append rec
	opBindingPut                    // store binding under session
	opBindingDrop                   // delete session
	opFlush                         // reply on done once everything before it is committed
)

// op is one queued write. It travels by value so Record allocates only the
// encoded record.
type op struct {
	kind    opKind
	seg     uint64            // journal segment holding the op; 0 if not journaled
	key     [16]byte          // opUsage: time prefix and store-wide sequence
	rec     relay.UsageRecord // opUsage, for the per-day totals (Failover too: each step counts on its account)
	value   []byte            // opUsage: record JSON; opBindingPut: binding JSON
	session string
	done    chan error // opFlush only; buffered(1)
}

// Record journals r and queues it for the writer, then returns: it never
// waits on the disk beyond one buffered write(2) to the journal, which is
// what lets r survive a kill -9 the moment Record returns. If the queue is
// full the record is dropped, counted in Dropped and reported in a warning at
// most once per 10 s. A zero r.Time is stamped with the store's clock. On a
// closed or read-only store Record does nothing.
func (s *Store) Record(r relay.UsageRecord) {
	if s.readOnly || s.closed.Load() {
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
	o := op{kind: opUsage, rec: r, value: v}
	binary.BigEndian.PutUint64(o.key[:8], uint64(r.Time.UnixNano()))
	binary.BigEndian.PutUint64(o.key[8:], s.seq.Add(1))
	if !s.submit(o) {
		s.dropped.Add(1)
		s.warnFull("usage queue full, dropping records")
	}
}

// Dropped reports how many usage records Record has discarded because the
// write queue was full.
func (s *Store) Dropped() uint64 { return s.dropped.Load() }

// submit appends o to the journal and queues it, both under jmu so that the
// journal and the queue see ops in the same order. It reports false, leaving
// nothing queued, when the queue is full.
func (s *Store) submit(o op) bool {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if len(s.queue) == cap(s.queue) {
		return false
	}
	if s.journal != nil {
		seg, err := s.journal.append(&o)
		s.noteJournalLocked(err)
		o.seg = seg
	}
	select {
	case s.queue <- o:
		return true
	default:
		// A Flush marker took the last slot; the line stays in the journal
		// and is replayed at the next Open if the process dies first.
		if s.journal != nil {
			s.journal.done(o.seg)
		}
		return false
	}
}

// noteJournalLocked logs when journal appends start or stop failing. The
// caller holds jmu.
func (s *Store) noteJournalLocked(err error) {
	was := s.journal.err
	s.journal.err = err
	switch {
	case err != nil && was == nil:
		s.log.Error("cannot append to the usage journal; new records are kept in memory until the database takes them, and would be lost if Keypool were killed",
			"path", s.path, "err", err)
		s.setHealth(func(h *WriteHealth) { h.JournalError = err.Error() })
	case err == nil && was != nil:
		s.log.Info("usage journal writable again", "path", s.path)
		s.setHealth(func(h *WriteHealth) { h.JournalError = "" })
	}
}

// warnFull logs msg at most once per warnEvery.
func (s *Store) warnFull(msg string) {
	now := s.now().UnixNano()
	last := s.lastWarn.Load()
	if last != 0 && now-last < int64(warnEvery) {
		return
	}
	if !s.lastWarn.CompareAndSwap(last, now) {
		return // another goroutine is warning
	}
	s.log.Warn(msg, "path", s.path, "queue_size", cap(s.queue), "dropped_records_total", s.dropped.Load())
}

// Run commits queued writes until ctx is done or the store is closed, then
// commits what is still queued and returns. Each transaction takes one op and
// whatever else is already waiting, up to 256. Failed writes are logged, held
// and retried (see commitLocked); Run returns nil unless writes are still
// failing when it stops.
// Only one Run may be active at a time.
func (s *Store) Run(ctx context.Context) error {
	if s.readOnly {
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		return nil
	}

	s.writeMu.Lock() // wait for a Flush or Close that is committing
	s.mu.Lock()
	var err error
	switch {
	case s.closed.Load():
		err = ErrClosed
	case s.running:
		err = errors.New("store: Run is already running")
	default:
		s.running = true
		s.runDone = make(chan struct{})
	}
	runDone := s.runDone
	s.mu.Unlock()
	s.writeMu.Unlock()
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
		s.writeMu.Lock()
		if len(s.held) > 0 {
			retry.Reset(max(time.Until(s.retryAt), time.Millisecond))
		}
		s.writeMu.Unlock()
		select {
		case <-ctx.Done():
			break loop
		case <-s.closing:
			break loop
		case <-retry.C:
			s.writeMu.Lock()
			s.commitLocked(nil)
			s.writeMu.Unlock()
		case o := <-s.queue:
			retry.Stop()
			batch = s.linger(ctx, append(batch[:0], o), linger)
			s.writeMu.Lock()
			batch = s.fill(batch, maxBatch)
			s.commitLocked(batch)
			s.writeMu.Unlock()
			clear(batch) // drop references to records already written
		}
	}

	s.writeMu.Lock()
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	err = s.drainLocked()
	s.writeMu.Unlock()
	close(runDone)
	return err
}

// Flush waits until every op queued before the call has been tried, retrying
// held ones at once. It returns nil if they are all in the file; otherwise an
// error wrapping ErrHeld (writes are failing; the ops wait in memory) and, if
// records were given up since the previous Flush, ErrLost. If Run is active,
// Flush queues a marker and waits for the writer to reach it; otherwise it
// commits the queue itself.
func (s *Store) Flush(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.writeMu.Lock()
		s.mu.Lock()
		running, runDone := s.running, s.runDone
		s.mu.Unlock()
		if s.dbClosed || (!running && s.closed.Load()) {
			s.writeMu.Unlock()
			return ErrClosed
		}
		if !running {
			err := s.drainLocked()
			s.writeMu.Unlock()
			return err
		}
		s.writeMu.Unlock()

		done := make(chan error, 1)
		select {
		case s.queue <- op{kind: opFlush, done: done}:
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
func (s *Store) linger(ctx context.Context, batch []op, t *time.Timer) []op {
	if batch[len(batch)-1].kind == opFlush {
		return batch
	}
	t.Reset(batchWait)
	defer t.Stop()
	for len(batch) < maxBatch {
		select {
		case o := <-s.queue:
			batch = append(batch, o)
			if o.kind == opFlush {
				return batch
			}
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		case <-s.closing:
			return batch
		}
	}
	return batch
}

// fill appends queued ops to batch, without waiting, until it holds max.
func (s *Store) fill(batch []op, max int) []op {
	for len(batch) < max {
		select {
		case o := <-s.queue:
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
func (s *Store) drainLocked() error {
	if s.dbClosed {
		return ErrClosed
	}
	if len(s.held) > 0 {
		s.retryHeld()
	}
	batch := make([]op, 0, maxBatch)
	for n := len(s.queue); n > 0; {
		batch = s.fill(batch[:0], min(n, maxBatch))
		if len(batch) == 0 {
			break
		}
		n -= len(batch)
		s.commitLocked(batch)
	}
	return s.flushErrLocked()
}

// commitLocked writes batch in one transaction and answers its flush
// markers. While writes fail, ops wait in s.held, oldest first, and are
// retried before anything newer: when a Flush asks, or once the backoff since
// the last failure has passed. The caller holds writeMu.
func (s *Store) commitLocked(batch []op) {
	marker := false
	for _, o := range batch {
		if o.kind == opFlush {
			marker = true
		}
	}
	if len(s.held) > 0 {
		s.held = appendWrites(s.held, batch)
		if marker || !time.Now().Before(s.retryAt) {
			s.retryHeld()
		}
	} else if err := s.write(batch); err != nil {
		s.held = appendWrites(s.held, batch)
		s.failedLocked(err)
	} else {
		s.committedLocked(batch)
	}
	s.trimHeldLocked()
	s.setHealth(func(h *WriteHealth) { h.Held = len(s.held) })
	if !marker {
		return
	}
	err := s.flushErrLocked()
	for _, o := range batch {
		if o.kind == opFlush {
			o.done <- err
		}
	}
}

// appendWrites appends batch's writes, without its flush markers, to held.
func appendWrites(held, batch []op) []op {
	for _, o := range batch {
		if o.kind != opFlush {
			held = append(held, o)
		}
	}
	return held
}

// retryHeld commits held ops in order, in transactions of up to
// retryBatch, stopping at the first failure.
func (s *Store) retryHeld() {
	for len(s.held) > 0 {
		n := min(len(s.held), retryBatch)
		if err := s.write(s.held[:n]); err != nil {
			s.failedLocked(err)
			return
		}
		s.committedLocked(s.held[:n])
		clear(s.held[:n])
		s.held = s.held[n:]
	}
	s.held = nil
	if s.writeErr != nil {
		s.logLostLocked()
		s.log.Info("writes resumed; every held record is now in the file",
			"path", s.path, "failing_for", time.Since(s.failingSince).Round(time.Second))
		s.writeErr, s.backoff = nil, 0
		s.setHealth(func(h *WriteHealth) { h.Error, h.Since = "", time.Time{} })
		// The journal shares the disk: assume it recovered too, and let the
		// next append say otherwise.
		if s.journal != nil {
			s.jmu.Lock()
			s.noteJournalLocked(nil)
			s.jmu.Unlock()
		}
	}
}

// failedLocked notes a failed commit and schedules the next try.
func (s *Store) failedLocked(err error) {
	if s.writeErr == nil {
		s.failingSince = time.Now()
		s.log.Error("cannot write to the database; requests are still served and their records are kept in memory until it can be written (free disk space or make the data dir writable)",
			"path", s.path, "held", len(s.held), "err", err)
		s.setHealth(func(h *WriteHealth) { h.Error, h.Since = err.Error(), s.failingSince })
	}
	s.writeErr = err
	s.backoff = min(max(2*s.backoff, minRetry), maxRetry)
	s.retryAt = time.Now().Add(s.backoff)
}

// committedLocked releases the journal lines of ops now in the file.
func (s *Store) committedLocked(batch []op) {
	if s.journal == nil {
		return
	}
	s.jmu.Lock()
	for _, o := range batch {
		s.journal.done(o.seg)
	}
	s.jmu.Unlock()
}

// trimHeldLocked gives up the oldest held ops beyond heldMax, so that a
// long outage costs bounded memory. Given-up usage records are counted in
// Lost and reported.
func (s *Store) trimHeldLocked() {
	over := len(s.held) - s.heldMax
	if over <= 0 {
		return
	}
	var lost uint64
	for _, o := range s.held[:over] {
		if o.kind == opUsage {
			lost++
		}
	}
	s.committedLocked(s.held[:over]) // their journal lines go too
	clear(s.held[:over])
	s.held = s.held[over:]
	s.lost.Add(lost)
	if time.Since(s.lostLoggedAt) >= warnEvery { // a long outage trims every batch
		s.logLostLocked()
	}
}

// logLostLocked reports the records given up since the last report, if any.
// The caller holds writeMu.
func (s *Store) logLostLocked() {
	total := s.lost.Load()
	if total == s.lostLogged {
		return
	}
	s.log.Error("usage records lost: writes have failed for too long to keep holding them",
		"path", s.path, "lost", total-s.lostLogged, "held", len(s.held), "lost_total", total)
	s.lostLogged, s.lostLoggedAt = total, time.Now()
}

// flushErrLocked is what a Flush returns now: nil when everything queued so
// far is in the file, else why not. It resets the count of records lost since
// the previous Flush.
func (s *Store) flushErrLocked() error {
	var errs []error
	if total := s.lost.Load(); total > s.lostFlushed {
		errs = append(errs, fmt.Errorf("%s: %d usage records %w", s.path, total-s.lostFlushed, ErrLost))
		s.lostFlushed = total
	}
	if len(s.held) > 0 {
		errs = append(errs, fmt.Errorf("%s: %d writes %w: %w", s.path, len(s.held), ErrHeld, s.writeErr))
	}
	return errors.Join(errs...)
}

// write commits batch in one db.Update. Usage records already in the file
// (replayed from the journal after a commit that did land) are skipped, and
// per-day totals are summed from the rest and added to the stored ones in the
// same transaction, so a record and its share of the totals land together.
func (s *Store) write(batch []op) error {
	has := false
	for _, o := range batch {
		if o.kind != opFlush {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsage)
		bb := tx.Bucket(bucketBindings)
		var daily map[string]*DayTotal
		var maxSeq uint64
		for i := range batch {
			o := &batch[i]
			switch o.kind {
			case opUsage:
				if ub.Get(o.key[:]) != nil {
					continue
				}
				if err := ub.Put(o.key[:], o.value); err != nil {
					return fmt.Errorf("put usage record: %w", err)
				}
				maxSeq = max(maxSeq, binary.BigEndian.Uint64(o.key[8:]))
				if daily == nil {
					daily = make(map[string]*DayTotal)
				}
				// Every attempt counts on the account it went to: the
				// accounts left on the way, then the last one.
				for _, st := range o.rec.Failover {
					if st.Account != "" {
						dayTotal(daily, &o.rec, st.Account).Count(st.Outcome())
					}
				}
				if o.rec.Account != "" {
					dayTotal(daily, &o.rec, o.rec.Account).add(&o.rec)
				}
			case opBindingPut, opBindingDrop:
				if o.session == "" || len(o.session) > bolt.MaxKeySize {
					s.log.Warn("skip binding with unusable session key", "path", s.path, "session_len", len(o.session))
					continue
				}
				var err error
				if o.kind == opBindingPut {
					err = bb.Put([]byte(o.session), o.value)
				} else {
					err = bb.Delete([]byte(o.session))
				}
				if err != nil {
					return fmt.Errorf("write binding: %w", err)
				}
			}
		}
		if maxSeq > ub.Sequence() {
			if err := ub.SetSequence(maxSeq); err != nil {
				return fmt.Errorf("usage sequence: %w", err)
			}
		}

		dayKeys := make([]string, 0, len(daily))
		for k := range daily {
			dayKeys = append(dayKeys, k)
		}
		slices.Sort(dayKeys)
		db := tx.Bucket(bucketDaily)
		for _, k := range dayKeys {
			total := *daily[k]
			if v := db.Get([]byte(k)); v != nil {
				var prev DayTotal
				if err := json.Unmarshal(v, &prev); err != nil {
					return fmt.Errorf("decode daily total %q: %w", k, err)
				}
				prev.merge(total)
				total = prev
			}
			v, err := json.Marshal(total)
			if err != nil {
				return fmt.Errorf("encode daily total %q: %w", k, err)
			}
			if err := db.Put([]byte(k), v); err != nil {
				return fmt.Errorf("put daily total %q: %w", k, err)
			}
		}
		return nil
	})
}

// dayTotal is the running total of r's day and model for account, made
// on first use.
func dayTotal(daily map[string]*DayTotal, r *relay.UsageRecord, account string) *DayTotal {
	k := dailyKey(r.Time, account, r.Model)
	t := daily[k]
	if t == nil {
		t = &DayTotal{Day: r.Time.Format(dayLayout), Account: account, Model: r.Model}
		daily[k] = t
	}
	return t
}

// timeKey is the 8-byte big-endian prefix of a usage key.
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}
