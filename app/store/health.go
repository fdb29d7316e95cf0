package store

import (
	"sync"

	"keypool/relay/record"
)

// WriteHealth says whether the store's writes are landing; see
// record.StoreHealth.
type WriteHealth = record.StoreHealth

var _ record.StoreHealthReporter = (*Store)(nil)

// StoreHealth returns the state of the store's writes, for /health and the
// window. It never waits on a commit.
func (s *Store) StoreHealth() WriteHealth {
	h := s.w.health.get()
	h.Lost = s.w.lost.Load() + s.w.dropped.Load()
	return h
}

// healthState is the writer's WriteHealth behind a lock of its own, which
// is never held across a commit.
type healthState struct {
	mu sync.Mutex
	h  WriteHealth
}

func (hs *healthState) get() WriteHealth {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.h
}

func (hs *healthState) set(fn func(*WriteHealth)) {
	hs.mu.Lock()
	fn(&hs.h)
	hs.mu.Unlock()
}
