package clients

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A project connection writes a CLI's project configuration in a folder, so
// that the CLI started there reaches the relay with another key (a
// profile's) than the user's own config gives it. What each CLI reads
// there, checked against Claude Code 2.1.337 and Gemini CLI 0.61.0 run in
// such a folder (2026-12-07):
//
//   - Claude Code: <dir>/.claude/settings.local.json, whose env block wins
//     over ~/.claude/settings.json and over the shell's exports, with no
//     trust prompt in -p mode. Claude Code treats the file as personal
//     (not for the repository).
//   - Gemini CLI: the first .env found walking up from the folder, where
//     <dir>/.gemini/.env comes first and hides ~/.gemini/.env; it is read
//     only in a trusted folder, so the folder is trusted in
//     ~/.gemini/trustedFolders.json; and <dir>/.gemini/settings.json picks
//     the API-key login. An exported GEMINI_API_KEY or
//     GOOGLE_GEMINI_BASE_URL still wins over any .env.
//   - Codex reads no provider, base URL or key from a project's
//     .codex/config.toml, even a trusted one ("Ignored unsupported
//     project-local config keys"): it has no project connection.
//
// The key-holding files are kept out of git through the repository's
// .git/info/exclude (never committed itself), when the folder is in one.

// ErrNoProjectConfig is returned for a CLI that has no project
// configuration Keypool can write.
var ErrNoProjectConfig = errors.New("reads no base URL or key from a project's own config")

// ConnectProject writes c's project configuration in dir (an absolute
// path) to reach the relay at base with key, as Connect does for the
// user's own files: backups, state beside each file, nothing changed when a
// file is malformed.
func ConnectProject(home, dir string, c Client, base, key string) error {
	es, err := projectEdits(home, dir, c, base, key)
	if err != nil {
		return err
	}
	return connect(es)
}

// DisconnectProject undoes ConnectProject, each file byte for byte when
// nobody changed it since.
func DisconnectProject(home, dir string, c Client) error {
	es, err := projectEdits(home, dir, c, "", "")
	if err != nil {
		return err
	}
	// Last made, first undone: a folder the first file's connect made is
	// empty again when its turn comes.
	for _, e := range slices.Backward(es) {
		if err := e.undo(); err != nil {
			return err
		}
	}
	return nil
}

// ProjectConnected reports whether c's project configuration in dir points
// at Keypool.
func ProjectConnected(home, dir string, c Client) (bool, error) {
	es, err := projectEdits(home, dir, c, "", "")
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(statePath(es[0].path)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// projectEdits are the files ConnectProject changes for c in dir.
func projectEdits(home, dir string, c Client, base, key string) ([]edit, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("project %s: want an absolute path", dir)
	}
	var es []edit
	var private []string // files holding the key, relative to dir
	switch c {
	case ClaudeCode:
		e := jsonEdit(filepath.Join(dir, ".claude", "settings.local.json"), map[string]any{"env.ANTHROPIC_BASE_URL": base, "env.ANTHROPIC_AUTH_TOKEN": key})
		e.secret = true
		es, private = append(es, e), append(private, ".claude/settings.local.json")
	case GeminiCLI:
		env := dotenvEdit(filepath.Join(dir, ".gemini", ".env"), map[string]string{"GOOGLE_GEMINI_BASE_URL": base + "/gemini", "GEMINI_API_KEY": key})
		env.secret = true
		es = append(es, env,
			jsonEdit(filepath.Join(dir, ".gemini", "settings.json"), map[string]any{"security.auth.selectedType": "gemini-api-key"}),
			jsonEdit(filepath.Join(home, ".gemini", "trustedFolders.json"), map[string]any{jsonPathKey(dir): "TRUST_FOLDER"}))
		private = append(private, ".gemini/.env")
	default:
		return nil, fmt.Errorf("%s %w (keypool connect %s without --project points all of it at Keypool)", c, ErrNoProjectConfig, c)
	}
	if gitDir := repositoryGitDir(dir); gitDir != "" {
		rel, err := filepath.Rel(filepath.Dir(gitDir), dir)
		if err == nil {
			var lines []string
			for _, p := range private {
				lines = append(lines, "/"+filepath.ToSlash(filepath.Join(rel, p)))
			}
			es = append(es, linesEdit(filepath.Join(gitDir, "info", "exclude"), lines))
		}
	}
	return es, nil
}

// repositoryGitDir is the .git folder of the work tree dir is in, or "".
// A .git file (a worktree, a submodule) is left alone: its exclude file is
// elsewhere.
func repositoryGitDir(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			if fi.IsDir() {
				return filepath.Join(d, ".git")
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// jsonPathKey escapes s for use as one key in a gjson/sjson path.
func jsonPathKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`.*?|#@\:!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// linesEdit adds lines to a plain text file (once each), keeping every
// other line; revert takes out the ones it added.
func linesEdit(path string, lines []string) edit {
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			have := strings.Split(string(old), "\n")
			prev := map[string]*string{}
			out := string(old)
			for _, l := range lines {
				present := false
				for _, h := range have {
					present = present || strings.TrimSpace(h) == l
				}
				if present {
					v := l
					prev[l] = &v
					continue
				}
				prev[l] = nil
				if out != "" && !strings.HasSuffix(out, "\n") {
					out += "\n"
				}
				out += l + "\n"
			}
			return []byte(out), prev, nil
		},
		revert: func(cur []byte, prev map[string]*string) ([]byte, error) {
			var keep []string
			for _, l := range strings.SplitAfter(string(cur), "\n") {
				if p, ours := prev[strings.TrimSpace(l)]; ours && p == nil {
					continue
				}
				keep = append(keep, l)
			}
			return []byte(strings.Join(keep, "")), nil
		}}
}
