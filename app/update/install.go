package update

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/ulikunitz/xz"
)

// Errors an update stops on, changing nothing.
var (
	ErrChecksum   = errors.New("the download does not match the release's SHA-256")
	ErrNoBinary   = errors.New("the archive holds no keypool binary")
	ErrNoPrevious = errors.New("no previous version is kept")
)

// maxArchive bounds a download.
const maxArchive = 512 << 20

// Download fetches archive a and checks it against its size and SHA-256
// from the signed manifest: a truncated, longer or changed download is
// refused.
func (c Checker) Download(ctx context.Context, a Archive) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "keypool/"+c.Current)
	resp, err := c.downloadClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", Redact(a.URL), redactErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", a.URL, resp.Status)
	}
	limit := int64(maxArchive)
	if a.Size > 0 {
		limit = a.Size
	}
	h := sha256.New()
	data, err := readAtMost(io.TeeReader(resp.Body, h), limit)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", a.URL, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != a.SHA256 || a.Size > 0 && int64(len(data)) != a.Size {
		return nil, fmt.Errorf("%w (%s, %d bytes)", ErrChecksum, path.Base(a.URL), len(data))
	}
	return data, nil
}

// Binary takes the executable of flavor out of an archive (.tar.xz,
// .tar.gz or .zip, by its name): keypool(.exe) for the desktop build;
// keypool-headless(.exe) for the headless one, or keypool alone in a
// headless archive (which holds no other).
func Binary(name string, data []byte, flavor string) ([]byte, error) {
	names := []string{"keypool", "keypool.exe"}
	if flavor == Headless {
		if b, err := Binary(name, data, "keypool-headless"); err == nil {
			return b, nil
		}
	} else if flavor != Desktop {
		names = []string{flavor, flavor + ".exe"} // a file of that name
	}
	isBinary := func(p string) bool { return slices.Contains(names, path.Base(p)) }
	switch {
	case strings.HasSuffix(name, ".zip"):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, f := range zr.File {
			if f.FileInfo().Mode().IsRegular() && isBinary(f.Name) {
				r, err := f.Open()
				if err != nil {
					return nil, err
				}
				defer r.Close()
				return readAtMost(r, maxArchive)
			}
		}
	case strings.HasSuffix(name, ".tar.xz"), strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		var r io.Reader
		var err error
		if strings.HasSuffix(name, ".tar.xz") {
			r, err = xz.NewReader(bytes.NewReader(data))
		} else {
			r, err = gzip.NewReader(bytes.NewReader(data))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if h.Typeflag == tar.TypeReg && isBinary(h.Name) {
				return readAtMost(tr, maxArchive)
			}
		}
	default:
		return nil, fmt.Errorf("%s: not a .tar.xz, .tar.gz or .zip archive", name)
	}
	return nil, fmt.Errorf("%w (%s)", ErrNoBinary, name)
}

// previous is where Replace keeps the binary it replaced.
func previous(exe string) string { return exe + ".previous" }

// renameRunning: the running executable cannot be replaced but can be
// renamed (Windows); a variable so tests take that path everywhere.
var renameRunning = runtime.GOOS == "windows"

// rename is os.Rename, a variable so tests can make it fail.
var rename = os.Rename

// Replace puts binary in place of the executable at exe, atomically: it is
// written beside it and renamed over it, so exe is always one whole binary.
// The one it replaces is kept (exe.previous) for Rollback; the one kept
// before is replaced only once the new copy is whole.
func Replace(exe string, binary []byte) error {
	exe = resolve(exe)
	fi, err := os.Stat(exe)
	if err != nil {
		return err
	}
	dir := filepath.Dir(exe)
	tmp, err := writeBeside(exe, ".new-*", func(f *os.File) error {
		_, err := f.Write(binary)
		return err
	})
	if err != nil {
		return fmt.Errorf("write the new version beside %s: %w", exe, err)
	}
	defer os.Remove(tmp) // gone once renamed; removed after a failure
	if err := os.Chmod(tmp, fi.Mode().Perm()|0o111); err != nil {
		return fmt.Errorf("write the new version beside %s: %w", exe, err)
	}
	prev := previous(exe)
	if renameRunning {
		return replaceRenaming(exe, tmp, prev)
	}
	// Keep the running version with a hard link (a copy where links are
	// refused) under a temporary name, then rename it over the one kept
	// before: exe never stops existing, and a failure keeps the old
	// previous version.
	keep, err := writeBeside(exe, ".previous-*", func(f *os.File) error { return nil })
	if err == nil {
		os.Remove(keep)
		if err = os.Link(exe, keep); err != nil {
			err = copyFile(exe, keep, fi.Mode().Perm())
		}
	}
	if err == nil {
		defer os.Remove(keep)
		err = rename(keep, prev)
	}
	if err != nil {
		return fmt.Errorf("keep the previous version: %w", err)
	}
	if err := rename(tmp, exe); err != nil {
		return fmt.Errorf("put the new version in place: %w", err)
	}
	syncDir(dir)
	return nil
}

// resolve is the file exe names when exe is a link (the file is replaced,
// not the link); exe itself otherwise, or when the link cannot be read
// (resolving every path fails on some Windows volumes).
func resolve(exe string) string {
	if fi, err := os.Lstat(exe); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			return real
		}
	}
	return exe
}

// replaceRenaming is Replace where a running program's file can be
// renamed but not replaced (Windows): the version kept before steps aside,
// the running one becomes the previous one, the new one takes its place;
// a failed step puts back what the steps before it moved.
func replaceRenaming(exe, tmp, prev string) error {
	aside := ""
	if _, err := os.Stat(prev); err == nil {
		aside = prev + ".old"
		os.Remove(aside)
		if err := rename(prev, aside); err != nil {
			return fmt.Errorf("keep the previous version: %w", err)
		}
	}
	putBack := func() {
		if aside != "" {
			rename(aside, prev)
		}
	}
	if err := rename(exe, prev); err != nil {
		putBack()
		return fmt.Errorf("keep the previous version: %w", err)
	}
	if err := rename(tmp, exe); err != nil {
		if rerr := rename(prev, exe); rerr != nil {
			return fmt.Errorf("put the new version in place: %w; the running version is at %s (put it back: %v)", err, prev, rerr)
		}
		putBack()
		return fmt.Errorf("put the new version in place: %w", err)
	}
	if aside != "" {
		os.Remove(aside)
	}
	syncDir(filepath.Dir(exe))
	return nil
}

// writeBeside creates a temporary file in exe's folder, named after it
// with pattern, has write fill it, and syncs it.
func writeBeside(exe, pattern string, write func(*os.File) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(exe), "."+filepath.Base(exe)+pattern)
	if err != nil {
		return "", err
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// Rollback puts back the version Replace kept, and keeps the one it
// replaces in its place (so a second rollback undoes the first).
func Rollback(exe string) error {
	exe = resolve(exe)
	if InAppBundle(exe) {
		return fmt.Errorf("%w: install the version you want from its release page", ErrAppBundle)
	}
	prev := previous(exe)
	back, err := os.ReadFile(prev)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%s)", ErrNoPrevious, prev)
	}
	if err != nil {
		return err
	}
	return Replace(exe, back)
}

func copyFile(from, to string, perm os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, perm)
}

// syncDir makes a rename in dir durable where directories can be synced
// (not on Windows: the rename stands anyway).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ErrAppBundle: a macOS app is signed as a whole bundle, so its binary is
// not replaced alone (the app would no longer open).
var ErrAppBundle = errors.New("the macOS app is updated whole, not its binary alone")

// InAppBundle reports whether exe is the binary inside a macOS .app.
func InAppBundle(exe string) bool {
	return strings.Contains(filepath.ToSlash(exe), ".app/Contents/MacOS/")
}

// ErrUpToDate: the feed's release is not newer than this build.
var ErrUpToDate = errors.New("already the latest Keypool")

// Install updates the executable at exe to the feed's release, if it is
// newer: the archive for this system is downloaded and checked against
// the signed manifest, and only then put in place (the previous version
// kept). Any failure leaves exe as it was.
func (c Checker) Install(ctx context.Context, exe string) (Manifest, error) {
	m, newer, err := c.Latest(ctx)
	if err != nil {
		return Manifest{}, err
	}
	if !newer {
		return m, fmt.Errorf("%w (%s; the feed has %s)", ErrUpToDate, c.Current, m.Version)
	}
	if InAppBundle(exe) {
		return m, fmt.Errorf("%w: download Keypool %s from %s", ErrAppBundle, m.Version, m.Notes)
	}
	a, err := m.ThisSystem()
	if err != nil {
		return m, err
	}
	data, err := c.Download(ctx, a)
	if err != nil {
		return m, err
	}
	bin, err := Binary(a.URL, data, ThisFlavor())
	if err != nil {
		return m, err
	}
	return m, Replace(exe, bin)
}
