package tokens

import (
	"context"
	"sync"
)

// MemoryVault is a Vault in memory: tokens, and whether a login was
// refused, last only as long as the process (a config file's accounts).
type MemoryVault struct {
	mu      sync.Mutex
	toks    map[string]Token
	refused map[string]bool
}

// NewMemoryVault returns an empty MemoryVault.
func NewMemoryVault() *MemoryVault { return &MemoryVault{toks: map[string]Token{}} }

func (v *MemoryVault) LoadToken(_ context.Context, id string) (Token, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.toks[id], nil
}

func (v *MemoryVault) SaveToken(_ context.Context, id string, t Token) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.toks[id] = t
	return nil
}

func (v *MemoryVault) NeedsLogin(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refused[id]
}

func (v *MemoryVault) SetNeedsLogin(id string, needs bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.refused == nil {
		v.refused = map[string]bool{}
	}
	v.refused[id] = needs
	return nil
}
