package store

import "time"

// WriteHealth says whether the store's writes are landing, for status
// displays. The zero value means all is well.
type WriteHealth struct {
	// Error is why commits to the database fail (disk full, read-only file
	// system); empty while they work.
	Error string `json:"error,omitempty"`
	// Since is when commits started failing.
	Since time.Time `json:"since,omitzero"`
	// Held is how many writes wait in memory for the database.
	Held int `json:"held,omitempty"`
	// Lost counts usage records given up since Open: the queue was full, or
	// writes failed for too long to keep holding them.
	Lost uint64 `json:"lost,omitempty"`
	// JournalError is why appends to the journal fail; while it is set, a
	// kill -9 would lose the held writes.
	JournalError string `json:"journal_error,omitempty"`
}

// OK reports whether nothing is wrong.
func (h WriteHealth) OK() bool {
	return h.Error == "" && h.Held == 0 && h.Lost == 0 && h.JournalError == ""
}

// WriteHealth returns the state of the store's writes. It never waits on a
// commit.
func (s *Store) WriteHealth() WriteHealth {
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
