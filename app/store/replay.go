package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"keypool/app/store/journal"
	"keypool/relay/sched"
)

// replayJournal opens the journal, commits what an unclean stop left in it
// and applies its binding changes to memory. Writes that cannot be committed
// now stay held and are retried by Run.
func (s *Store) replayJournal() error {
	w := s.w
	w.journal = journal.New(s.path, 0)
	var ops []op
	damaged, err := w.journal.Replay(func(seg uint64, e journal.Entry) error {
		o := op{Entry: e, seg: seg}
		if e.Kind == journal.Usage {
			// A record that does not decode counts as a damaged line.
			if err := json.Unmarshal(e.Value, &o.rec); err != nil {
				return err
			}
		}
		ops = append(ops, o)
		return nil
	})
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path, err)
	}
	if damaged > 0 {
		s.log.Warn("skipped damaged lines in the usage journal", "path", s.path, "lines", damaged)
	}
	if len(ops) == 0 {
		return nil
	}
	now := s.now()
	s.bmu.Lock()
	for _, o := range ops {
		switch o.Kind {
		case journal.Usage:
			if seq := binary.BigEndian.Uint64(o.Key[8:]); seq > s.seq.Load() {
				s.seq.Store(seq)
			}
		case journal.BindingPut:
			var b sched.Binding
			if json.Unmarshal(o.Value, &b) == nil && !expired(b, now) {
				s.bindings[o.Session] = b
			} else {
				delete(s.bindings, o.Session)
			}
		case journal.BindingDrop:
			delete(s.bindings, o.Session)
		}
	}
	s.bmu.Unlock()

	w.writeMu.Lock()
	w.held = ops
	w.retryHeld()
	held := len(w.held)
	w.writeMu.Unlock()
	w.health.set(func(h *WriteHealth) { h.Held = held })
	s.log.Info("replayed the usage journal left by an unclean stop", "path", s.path, "writes", len(ops), "still_held", held)
	return nil
}
