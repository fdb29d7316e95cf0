package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/app/store/journal"
	"keypool/relay/sched"
)

// expired reports whether b is no longer valid at now. A zero Expires counts
// as expired.
func expired(b sched.Binding, now time.Time) bool {
	return !now.Before(b.Expires)
}

// Get returns the session's binding from memory. An expired binding is not
// returned.
func (s *Store) Get(session string) (sched.Binding, bool) {
	s.bmu.RLock()
	b, ok := s.bindings[session]
	s.bmu.RUnlock()
	if !ok || expired(b, s.now()) {
		return sched.Binding{}, false
	}
	return b, true
}

// Put sets the session's binding in memory and queues its write to the file;
// it never waits on disk. A binding that has already expired deletes the
// session instead. If the queue is full the file keeps its old value (a
// warning is logged); memory is always updated. On a read-only store only
// memory changes.
func (s *Store) Put(session string, b sched.Binding) {
	now := s.now()
	o := op{Entry: journal.Entry{Kind: journal.BindingPut, Session: session}}

	s.bmu.Lock()
	defer s.bmu.Unlock()
	if expired(b, now) {
		delete(s.bindings, session)
		o = op{Entry: journal.Entry{Kind: journal.BindingDrop, Session: session}}
	} else {
		s.bindings[session] = b
	}
	if s.puts++; s.puts >= sweepEvery {
		s.puts = 0
		for k, v := range s.bindings {
			if expired(v, now) {
				delete(s.bindings, k) // the file copy goes at the next Open
			}
		}
	}
	if !s.w.accepting() {
		return
	}
	if o.Kind == journal.BindingPut {
		v, err := json.Marshal(b)
		if err != nil {
			s.log.Warn("skip binding", "path", s.path, "err", err)
			return
		}
		o.Value = v
	}
	// Queued under bmu so the file sees Puts in the same order as memory.
	if !s.w.submit(o) {
		s.w.warnFull("write queue full, binding not saved")
	}
}

// loadBindings fills the in-memory map from the bindings bucket, skipping
// expired or unreadable entries, and returns copies of their keys so a
// writable caller can delete them.
func (s *Store) loadBindings(tx *bolt.Tx, now time.Time) (stale [][]byte, err error) {
	bk := tx.Bucket(bucketBindings)
	if bk == nil {
		return nil, nil
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	err = bk.ForEach(func(k, v []byte) error {
		var b sched.Binding
		if err := json.Unmarshal(v, &b); err != nil {
			s.log.Warn("drop unreadable binding", "path", s.path, "err", err)
			stale = append(stale, append([]byte(nil), k...))
			return nil
		}
		if expired(b, now) {
			stale = append(stale, append([]byte(nil), k...))
			return nil
		}
		s.bindings[string(k)] = b
		return nil
	})
	return stale, err
}
