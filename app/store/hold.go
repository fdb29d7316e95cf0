package store

import (
	"errors"
	"fmt"
	"time"

	"keypool/app/store/journal"
)

// While writes fail (a full disk, a read-only file system), the writer holds
// them in memory, oldest first, retries them with a growing backoff, and
// gives up the oldest beyond maxHeld, counting the usage records lost.

const (
	// minRetry and maxRetry bound the wait between retries of failed writes.
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
	// retryBatch is how many held ops one retry transaction takes.
	retryBatch = 4096
	// maxHeld bounds the ops held in memory while writes fail (some 30 MB of
	// usage records); older ones are given up beyond it.
	maxHeld = 100_000
)

// commitLocked writes batch in one transaction and answers its flush
// markers. While writes fail, ops wait in w.held, oldest first, and are
// retried before anything newer: when a Flush asks, or once the backoff since
// the last failure has passed. The caller holds writeMu.
func (w *writer) commitLocked(batch []op) {
	marker := false
	for _, o := range batch {
		if o.isFlush() {
			marker = true
		}
	}
	if len(w.held) > 0 {
		w.held = appendWrites(w.held, batch)
		if marker || !time.Now().Before(w.retryAt) {
			w.retryHeld()
		}
	} else if err := w.write(batch); err != nil {
		w.held = appendWrites(w.held, batch)
		w.failedLocked(err)
	} else {
		w.committedLocked(batch)
	}
	w.trimHeldLocked()
	w.health.set(func(h *WriteHealth) { h.Held = len(w.held) })
	if !marker {
		return
	}
	err := w.flushErrLocked()
	for _, o := range batch {
		if o.isFlush() {
			o.done <- err
		}
	}
}

// appendWrites appends batch's writes, without its flush markers, to held.
func appendWrites(held, batch []op) []op {
	for _, o := range batch {
		if !o.isFlush() {
			held = append(held, o)
		}
	}
	return held
}

// retryHeld commits held ops in order, in transactions of up to
// retryBatch, stopping at the first failure. The caller holds writeMu.
func (w *writer) retryHeld() {
	for len(w.held) > 0 {
		n := min(len(w.held), retryBatch)
		if err := w.write(w.held[:n]); err != nil {
			w.failedLocked(err)
			return
		}
		w.committedLocked(w.held[:n])
		clear(w.held[:n])
		w.held = w.held[n:]
	}
	w.held = nil
	if w.writeErr != nil {
		w.logLostLocked()
		w.log.Info("writes resumed; every held record is now in the file",
			"path", w.path, "failing_for", time.Since(w.failingSince).Round(time.Second))
		w.writeErr, w.backoff = nil, 0
		w.health.set(func(h *WriteHealth) { h.Error, h.Since = "", time.Time{} })
		// The journal shares the disk: assume it recovered too, and let the
		// next append say otherwise.
		if w.journal != nil {
			w.jmu.Lock()
			w.noteJournalLocked(nil)
			w.jmu.Unlock()
		}
	}
}

// failedLocked notes a failed commit and schedules the next try.
func (w *writer) failedLocked(err error) {
	if w.writeErr == nil {
		w.failingSince = time.Now()
		w.log.Error("cannot write to the database; requests are still served and their records are kept in memory until it can be written (free disk space or make the data dir writable)",
			"path", w.path, "held", len(w.held), "err", err)
		w.health.set(func(h *WriteHealth) { h.Error, h.Since = err.Error(), w.failingSince })
	}
	w.writeErr = err
	w.backoff = min(max(2*w.backoff, minRetry), maxRetry)
	w.retryAt = time.Now().Add(w.backoff)
}

// committedLocked releases the journal lines of ops now in the file.
func (w *writer) committedLocked(batch []op) {
	if w.journal == nil {
		return
	}
	w.jmu.Lock()
	for _, o := range batch {
		w.journal.Done(o.seg)
	}
	w.jmu.Unlock()
}

// trimHeldLocked gives up the oldest held ops beyond heldMax, so that a
// long outage costs bounded memory. Given-up usage records are counted in
// Lost and reported.
func (w *writer) trimHeldLocked() {
	over := len(w.held) - w.heldMax
	if over <= 0 {
		return
	}
	var lost uint64
	for _, o := range w.held[:over] {
		if o.Kind == journal.Usage {
			lost++
		}
	}
	w.committedLocked(w.held[:over]) // their journal lines go too
	clear(w.held[:over])
	w.held = w.held[over:]
	w.lost.Add(lost)
	if time.Since(w.lostLoggedAt) >= warnEvery { // a long outage trims every batch
		w.logLostLocked()
	}
}

// logLostLocked reports the records given up since the last report, if any.
// The caller holds writeMu.
func (w *writer) logLostLocked() {
	total := w.lost.Load()
	if total == w.lostLogged {
		return
	}
	w.log.Error("usage records lost: writes have failed for too long to keep holding them",
		"path", w.path, "lost", total-w.lostLogged, "held", len(w.held), "lost_total", total)
	w.lostLogged, w.lostLoggedAt = total, time.Now()
}

// flushErrLocked is what a Flush returns now: nil when everything queued so
// far is in the file, else why not. It resets the count of records lost since
// the previous Flush.
func (w *writer) flushErrLocked() error {
	var errs []error
	if total := w.lost.Load(); total > w.lostFlushed {
		errs = append(errs, fmt.Errorf("%s: %d usage records %w", w.path, total-w.lostFlushed, ErrLost))
		w.lostFlushed = total
	}
	if len(w.held) > 0 {
		errs = append(errs, fmt.Errorf("%s: %d writes %w: %w", w.path, len(w.held), ErrHeld, w.writeErr))
	}
	return errors.Join(errs...)
}
