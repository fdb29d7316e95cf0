package secrets

import (
	"fmt"
	"sync"
)

// Memory is an in-memory Keychain for the tests of other packages, with the
// same rules as OS: the same key and size checks, ErrNotFound from Get,
// no error from deleting a missing entry. It is safe for concurrent use; the
// zero Memory is empty and ready. Keypool itself never uses it: secrets held
// only in memory would be lost at exit.
type Memory struct {
	mu sync.Mutex
	m  map[memKey]string
}

// memKey is an entry's name, as OS would write it.
type memKey string

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// Get implements Keychain.
func (k *Memory) Get(o Owner, f Field) (Secret, error) {
	if err := checkKey(o, f); err != nil {
		return Secret{}, fmt.Errorf("keychain get %s: %w", o.entry(f), err)
	}
	k.mu.Lock()
	v, ok := k.m[memKey(o.entry(f))]
	k.mu.Unlock()
	if !ok {
		return Secret{}, fmt.Errorf("keychain get %s: %w", o.entry(f), ErrNotFound)
	}
	return New(v), nil
}

// Set implements Keychain.
func (k *Memory) Set(o Owner, f Field, s Secret) error {
	if err := checkSet(o, f, s); err != nil {
		return fmt.Errorf("keychain set %s: %w", o.entry(f), err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[memKey]string)
	}
	k.m[memKey(o.entry(f))] = s.Reveal()
	return nil
}

// Delete implements Keychain.
func (k *Memory) Delete(o Owner, f Field) error {
	if err := checkKey(o, f); err != nil {
		return fmt.Errorf("keychain delete %s: %w", o.entry(f), err)
	}
	k.mu.Lock()
	delete(k.m, memKey(o.entry(f)))
	k.mu.Unlock()
	return nil
}

// DeleteAll implements Keychain.
func (k *Memory) DeleteAll(o Owner) error { return deleteAll(k, o) }
