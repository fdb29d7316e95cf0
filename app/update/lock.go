package update

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrBusy: another keypool update is changing the same executable.
var ErrBusy = errors.New("another keypool update is running on this executable")

// staleLock is how old a lock may be before it is taken as left behind
// by an update that died: far longer than a download and a replace take.
const staleLock = 30 * time.Minute

// Lock keeps a second keypool update (or rollback) off exe until unlock:
// two at once could each keep the other's new binary as the previous one.
// A lock older than staleLock is taken over.
func Lock(exe string) (unlock func(), err error) {
	path := exe + ".update-lock"
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", exe, err)
		}
		fi, serr := os.Stat(path)
		if serr != nil || time.Since(fi.ModTime()) < staleLock {
			return nil, fmt.Errorf("%w (if none is, remove %s)", ErrBusy, path)
		}
		os.Remove(path) // left behind: take it over
	}
	return nil, fmt.Errorf("%w (if none is, remove %s)", ErrBusy, path)
}
