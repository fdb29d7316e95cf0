package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"keypool/app/config"
	"keypool/app/store"
)

// Setup is what Params resolve to, worked out in one place (Resolve) for
// the relay, the desktop app and every command: the configuration, with the
// flags' overrides applied, and the files of the data dir.
type Setup struct {
	Params Params
	Config *config.File
	Files  Files
}

// Resolve reads p's config (or the defaults when there is none) and finds
// its data dir.
func Resolve(p Params) (Setup, error) {
	cfg, err := LoadConfig(p)
	if err != nil {
		return Setup{}, err
	}
	db, err := DatabasePath(p, cfg)
	if err != nil {
		return Setup{}, err
	}
	return Setup{Params: p, Config: cfg, Files: Files{DB: db}}, nil
}

// LogLevel is the level the config asks for.
func (s Setup) LogLevel() slog.Level { return s.Config.Server.LogLevelValue() }

// openStore opens the store for a one-off command, waiting briefly for the
// lock.
func (s Setup) openStore() (*store.Store, error) {
	return store.Open(s.Files.DB, store.Options{Timeout: 300 * time.Millisecond, Logger: s.Params.Logger})
}

// Files are the files Keypool keeps in a data dir, each named from the
// database's path.
type Files struct {
	DB string // the bbolt store
}

// RunFile notes where the relay that holds the store listens.
func (f Files) RunFile() string { return RunFile(f.DB) }

// ControlSocket is where account commands reach that relay.
func (f Files) ControlSocket() string { return ControlSocket(f.DB) }

// Log is the desktop app's log file.
func (f Files) Log() string { return LogPath(f.DB) }

// Prices is the user's price list, read over the bundled one.
func (f Files) Prices() string { return filepath.Join(filepath.Dir(f.DB), "prices.json") }

// MoveDatabaseAside renames a damaged database out of the way (keeping it),
// so that Keypool can start with an empty one; it returns the new name.
func (f Files) MoveDatabaseAside(now time.Time) (string, error) { return store.MoveAside(f.DB, now) }

// DefaultDataDir is the per-user folder Keypool keeps its files in.
func DefaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w (pass --data-dir)", err)
	}
	return filepath.Join(dir, "keypool"), nil
}

// LoadConfig reads p's config, or returns an empty one (no accounts,
// loopback, default port) when there is none, with overrides applied.
func LoadConfig(p Params) (*config.File, error) {
	var cfg *config.File
	if p.ConfigPath != "" {
		c, err := config.Load(p.ConfigPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		c, err := config.Parse("(defaults)", nil)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if p.Host != "" {
		cfg.Server.Host = p.Host
	}
	if p.TLSCert != "" || p.TLSKey != "" {
		if p.TLSCert == "" || p.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together: give both (PEM files), or neither")
		}
		cfg.Server.TLSCert, cfg.Server.TLSKey = p.TLSCert, p.TLSKey
	}
	// Absolute, as the run file keeps them: keypool status, run from
	// another directory, trusts the certificate it names.
	for _, f := range []*string{&cfg.Server.TLSCert, &cfg.Server.TLSKey} {
		if *f == "" {
			continue
		}
		abs, err := filepath.Abs(*f)
		if err != nil {
			return nil, fmt.Errorf("TLS file %s: %w", *f, err)
		}
		*f = abs
	}
	switch {
	case p.Port == AnyPort:
		cfg.Server.Port = 0
	case p.Port != 0:
		cfg.Server.Port = p.Port
	}
	return cfg, nil
}

// DatabasePath is the bbolt file for p and cfg: --data-dir wins, then the
// config's database_path, then the default data dir.
func DatabasePath(p Params, cfg *config.File) (string, error) {
	if p.DataDir != "" {
		return filepath.Join(p.DataDir, "keypool.db"), nil
	}
	if cfg != nil && cfg.Server.DatabasePath != "" {
		return besideSQLite(cfg.Server.DatabasePath), nil
	}
	dir, err := DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "keypool.db"), nil
}

// besideSQLite keeps a seed relay's database untouched: the seed keeps
// SQLite at database_path, so when that file is SQLite Keypool puts its own
// bbolt file beside it ("relay.db" → "relay.keypool.db").
func besideSQLite(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return path
	}
	defer f.Close()
	magic := make([]byte, 16)
	if n, _ := io.ReadFull(f, magic); n == 16 && string(magic) == "SQLite format 3\x00" {
		ext := filepath.Ext(path)
		return strings.TrimSuffix(path, ext) + ".keypool.db"
	}
	return path
}
