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
	"keypool/relay/sched"
)

type opKind uint8

const (
	opUsage       opKind = iota + 1 // append rec
	opBindingPut                    // store binding under session
	opBindingDrop                   // delete session
	opFlush                         // reply on done once everything before it is committed
)

// op is one queued write. It travels by value so Record does not allocate.
type op struct {
	kind    opKind
	rec     relay.UsageRecord
	session string
	binding sched.Binding
	done    chan error // opFlush only; buffered(1)
}

// Record queues r for the writer and returns at once. If the queue is full the
// record is dropped, counted in Dropped and reported in a warning at most once
// per 10 s. A zero r.Time is stamped with the store's clock. r's Failover slice
// is kept, so the caller must not change it afterwards. On a closed or
// read-only store Record does nothing.
func (s *Store) Record(r relay.UsageRecord) {
	if s.readOnly || s.closed.Load() {
		return
	}
	if r.Time.IsZero() {
		r.Time = s.now()
	}
	select {
	case s.queue <- op{kind: opUsage, rec: r}:
	default:
		s.dropped.Add(1)
		s.warnFull("usage queue full, dropping records")
	}
}

// Dropped reports how many usage records Record has discarded because the
// write queue was full.
func (s *Store) Dropped() uint64 { return s.dropped.Load() }

// enqueue queues o without blocking and reports whether it fit.
func (s *Store) enqueue(o op) bool {
	select {
	case s.queue <- o:
		return true
	default:
		return false
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
// whatever else is already waiting, up to 256. Write errors are logged and
// reported by the next Flush; Run returns nil unless the final commit fails.
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
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-s.closing:
			break loop
		case o := <-s.queue:
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

// Flush waits until every op queued before the call is committed, and returns
// the first write error since the previous Flush, if any. If Run is active,
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

// drainLocked commits the ops queued at the time of the call and returns the
// pending write error. The caller holds writeMu and no Run loop is active.
func (s *Store) drainLocked() error {
	if s.dbClosed {
		return ErrClosed
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
	err := s.pendingErr
	s.pendingErr = nil
	return err
}

// commitLocked writes batch in one transaction and answers its flush markers.
// The caller holds writeMu.
func (s *Store) commitLocked(batch []op) {
	if err := s.write(batch); err != nil {
		s.log.Error("commit queued writes", "path", s.path, "ops", len(batch), "err", err)
		if s.pendingErr == nil {
			s.pendingErr = err
		}
	}
	flushed := false
	for _, o := range batch {
		if o.kind == opFlush {
			o.done <- s.pendingErr
			flushed = true
		}
	}
	if flushed {
		s.pendingErr = nil
	}
}

type usageRow struct {
	nanos uint64
	value []byte
}

type bindingRow struct {
	session string
	value   []byte // nil deletes
}

// write commits batch in one db.Update. Values are encoded before the
// transaction opens; per-day totals are summed per batch and then added to
// the stored ones, in the same transaction as the records.
func (s *Store) write(batch []op) error {
	var (
		rows   []usageRow
		daily  map[string]*DayTotal
		bounds []bindingRow
	)
	for _, o := range batch {
		switch o.kind {
		case opUsage:
			v, err := json.Marshal(o.rec)
			if err != nil {
				s.log.Warn("skip usage record", "path", s.path, "err", err)
				continue
			}
			rows = append(rows, usageRow{nanos: uint64(o.rec.Time.UnixNano()), value: v})
			if daily == nil {
				daily = make(map[string]*DayTotal)
			}
			k := dailyKey(o.rec.Time, o.rec.Account, o.rec.Model)
			t := daily[k]
			if t == nil {
				t = &DayTotal{Day: o.rec.Time.Format(dayLayout), Account: o.rec.Account, Model: o.rec.Model}
				daily[k] = t
			}
			t.add(o.rec)
		case opBindingPut, opBindingDrop:
			if o.session == "" || len(o.session) > bolt.MaxKeySize {
				s.log.Warn("skip binding with unusable session key", "path", s.path, "session_len", len(o.session))
				continue
			}
			row := bindingRow{session: o.session}
			if o.kind == opBindingPut {
				v, err := json.Marshal(o.binding)
				if err != nil {
					s.log.Warn("skip binding", "path", s.path, "err", err)
					continue
				}
				row.value = v
			}
			bounds = append(bounds, row)
		}
	}
	if len(rows) == 0 && len(bounds) == 0 {
		return nil
	}
	dayKeys := make([]string, 0, len(daily))
	for k := range daily {
		dayKeys = append(dayKeys, k)
	}
	slices.Sort(dayKeys)

	return s.db.Update(func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsage)
		for _, r := range rows {
			seq, err := ub.NextSequence()
			if err != nil {
				return fmt.Errorf("usage sequence: %w", err)
			}
			key := make([]byte, 16)
			binary.BigEndian.PutUint64(key[:8], r.nanos)
			binary.BigEndian.PutUint64(key[8:], seq)
			if err := ub.Put(key, r.value); err != nil {
				return fmt.Errorf("put usage record: %w", err)
			}
		}

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

		bb := tx.Bucket(bucketBindings)
		for _, b := range bounds {
			var err error
			if b.value == nil {
				err = bb.Delete([]byte(b.session))
			} else {
				err = bb.Put([]byte(b.session), b.value)
			}
			if err != nil {
				return fmt.Errorf("write binding: %w", err)
			}
		}
		return nil
	})
}

// timeKey is the 8-byte big-endian prefix of a usage key.
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}
