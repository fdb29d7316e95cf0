package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBusy: another keypool update is changing the same executable.
var ErrBusy = errors.New("another keypool update is running on this executable")

// Lock keeps a second keypool update (or rollback) off exe until unlock:
// two at once could each keep the other's new binary as the previous one.
// The lock is the operating system's on a file in the temporary folder,
// named after exe, so it ends with the process that holds it, however it
// ends, and nothing is written beside exe (or inside an app bundle).
func Lock(exe string) (unlock func(), err error) {
	sum := sha256.Sum256([]byte(exe))
	path := filepath.Join(os.TempDir(), "keypool-update-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", exe, err)
	}
	held, err := tryLock(f)
	if err != nil || !held {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", exe, err)
		}
		return nil, fmt.Errorf("%w (%s)", ErrBusy, exe)
	}
	// Closing the file lets the lock go; the file stays, so no second
	// process can lock a file this one is removing.
	return func() { f.Close() }, nil
}
