package store

import "keypool/relay"

// WriteHealth says whether the store's writes are landing; see
// relay.StoreHealth.
type WriteHealth = relay.StoreHealth

var _ relay.StoreHealthReporter = (*Store)(nil)

// StoreHealth returns the state of the store's writes, for /health and the
// window. It never waits on a commit.
func (s *Store) StoreHealth() WriteHealth {
	s.hmu.Lock()
	h := s.health
	s.hmu.Unlock()
	h.Lost = s.lost.Load() + s.dropped.Load()
	return h
}

func (s *Store) setHealth(fn func(*WriteHealth)) {
	s.hmu.Lock()
	fn(&s.health)
	s.hmu.Unlock()
}
