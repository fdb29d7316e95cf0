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

type memKey struct {
	account string
	field   Field
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{} }

// Get implements Keychain.
func (k *Memory) Get(account string, f Field) (Secret, error) {
	if err := checkKey(account, f); err != nil {
		return Secret{}, fmt.Errorf("keychain get %s/%s: %w", account, f, err)
	}
	k.mu.Lock()
	v, ok := k.m[memKey{account, f}]
	k.mu.Unlock()
	if !ok {
		return Secret{}, fmt.Errorf("keychain get %s/%s: %w", account, f, ErrNotFound)
	}
	return New(v), nil
}

// Set implements Keychain.
func (k *Memory) Set(account string, f Field, s Secret) error {
	if err := checkSet(account, f, s); err != nil {
		return fmt.Errorf("keychain set %s/%s: %w", account, f, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[memKey]string)
	}
	k.m[memKey{account, f}] = s.Reveal()
	return nil
}

// Delete implements Keychain.
func (k *Memory) Delete(account string, f Field) error {
	if err := checkKey(account, f); err != nil {
		return fmt.Errorf("keychain delete %s/%s: %w", account, f, err)
	}
	k.mu.Lock()
	delete(k.m, memKey{account, f})
	k.mu.Unlock()
	return nil
}

// DeleteAccount implements Keychain.
func (k *Memory) DeleteAccount(account string) error {
	for _, f := range AllFields {
		if err := k.Delete(account, f); err != nil {
			return err
		}
	}
	return nil
}
