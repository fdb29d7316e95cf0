package clients

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Connect writes a client's own config so a new terminal reaches the relay
// with no variable exported: Claude Code's settings.json env block (Claude
// Code applies it to its own environment), Codex's config.toml provider
// with the key inline (experimental_bearer_token: an env_key would need an
// exported variable), and Gemini CLI's ~/.gemini/.env (which it loads
// itself) plus its auth type. A file that holds the key is made 0600. Only
// the keys Keypool owns change; a timestamped backup is made before every
// write; writing twice changes nothing; a malformed file is reported and
// left untouched.
func Connect(home string, c Client, base, key string) error {
	if c == Codex {
		if err := undoLegacyCodex(home); err != nil {
			return err
		}
	}
	return connect(edits(home, c, base, key, ""))
}

// ConnectClaudeStatusLine connects Claude Code as Connect does and also
// sets its statusLine to run command (keypool statusline), in the same
// settings.json with the same backup; Disconnect undoes both.
func ConnectClaudeStatusLine(home, base, key, command string) error {
	return connect(edits(home, ClaudeCode, base, key, command))
}

func connect(es []edit) error {
	// Check every file first: one malformed file leaves all of them as
	// they are.
	for _, e := range es {
		old, err := os.ReadFile(e.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if _, _, err := e.set(old); err != nil {
			return fmt.Errorf("%s: %w (nothing was changed)", e.path, err)
		}
	}
	for _, e := range es {
		if err := e.apply(); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect undoes Connect: a file nobody changed since is restored byte
// for byte from its backup; otherwise only Keypool's keys are put back as
// they were.
func Disconnect(home string, c Client) error {
	if c == Codex {
		if err := undoLegacyCodex(home); err != nil {
			return err
		}
	}
	for _, e := range slices.Backward(edits(home, c, "", "", "")) { // last made, first undone
		if err := e.undo(); err != nil {
			return err
		}
	}
	return nil
}

// Connected reports whether the client's config points at Keypool.
// Its first file says (Codex's auth.json is changed only when the relay
// needs a key).
func Connected(home string, c Client) (bool, error) {
	if _, err := os.Stat(statePath(edits(home, c, "", "", "")[0].path)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// edit is one file's change: set returns the new content from the old
// (nil old: no file), revert puts the recorded previous values back.
type edit struct {
	path   string
	set    func(old []byte) ([]byte, map[string]*string, error) // new content, previous values of owned keys (nil: absent)
	revert func(cur []byte, prev map[string]*string) ([]byte, error)
	// secret marks a file that will hold the client key: it is written
	// 0600 whatever its mode was.
	secret bool
}

// edits are the files Connect changes for c; statusLine, for Claude Code,
// is the command its status line runs ("": the status line is left alone).
func edits(home string, c Client, base, key, statusLine string) []edit {
	switch c {
	case Codex:
		return codexEdits(home, base, key)
	case GeminiCLI:
		// Gemini CLI reads GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL only
		// from its environment, and fills that from the first .env it
		// finds walking up from the working folder, ~/.gemini/.env last
		// (in a trusted folder). Without selectedType it asks how to log
		// in (or exits 41 with -p).
		env := dotenvEdit(filepath.Join(home, ".gemini", ".env"), map[string]string{"GOOGLE_GEMINI_BASE_URL": base + "/gemini", "GEMINI_API_KEY": key})
		env.secret = true
		return []edit{env,
			jsonEdit(filepath.Join(home, ".gemini", "settings.json"), map[string]any{"security.auth.selectedType": "gemini-api-key"}),
		}
	}
	// Claude Code copies settings.json's env block into its environment at
	// start; ANTHROPIC_AUTH_TOKEN goes out as Authorization: Bearer. Its
	// statusLine runs a command with the session's JSON on standard input.
	set := map[string]any{"env.ANTHROPIC_BASE_URL": base, "env.ANTHROPIC_AUTH_TOKEN": key}
	if statusLine != "" {
		set["statusLine"] = map[string]any{"type": "command", "command": statusLine, "padding": 0}
	}
	e := jsonEdit(filepath.Join(home, ".claude", "settings.json"), set)
	e.secret = true
	return []edit{e}
}

// state is what Connect remembers next to a file: its previous values of
// Keypool's keys, the backup, the file's mode, and a hash of what Connect
// wrote.
type state struct {
	Prev    map[string]*string `json:"prev"`
	Backup  string             `json:"backup,omitempty"` // "" when there was no file
	Written string             `json:"written"`
	// Mode is the file's permission bits before the first Connect, put
	// back with its bytes (a file that holds the key was made 0600). Zero
	// in a state written before Keypool recorded it: the backup's mode,
	// which was the file's, is used then.
	Mode os.FileMode `json:"mode,omitempty"`
	// Edited: the file changed between two connects, so the backup is no
	// longer what Disconnect may put back whole.
	Edited bool `json:"edited,omitempty"`
	// MadeDir: the file's folder did not exist before the first Connect;
	// Disconnect takes it away again when it is left empty.
	MadeDir bool `json:"made_dir,omitempty"`
}

func statePath(p string) string { return p + ".keypool-state" }

func (e edit) apply() error {
	old, err := os.ReadFile(e.path)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var st state
	if b, err := os.ReadFile(statePath(e.path)); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s: %w", statePath(e.path), err)
		}
	}
	next, prev, err := e.set(old)
	if err != nil {
		return fmt.Errorf("%s: %w (left untouched)", e.path, err)
	}
	orig := fileMode(e.path)
	mode := orig
	if e.secret {
		mode = 0o600
	}
	if exists && bytes.Equal(next, old) {
		// Already connected: writing twice changes nothing, except that a
		// file holding the key is kept private.
		if orig != mode {
			if err := os.Chmod(e.path, mode); err != nil {
				return fmt.Errorf("keep %s private: %w", e.path, err)
			}
		}
		return nil
	}
	// Backups are Keypool's own files and may hold a key (the user's own,
	// or the one a previous Connect wrote): only the owner reads them.
	if st.Prev == nil { // first connect: remember what was there
		st.Prev = prev
		if _, err := os.Stat(filepath.Dir(e.path)); errors.Is(err, os.ErrNotExist) {
			st.MadeDir = true
		}
		if exists {
			st.Mode = orig
			st.Backup = fmt.Sprintf("%s.keypool-backup-%s", e.path, time.Now().Format("20060102-150405"))
			if err := writeFile(st.Backup, old, 0o600); err != nil {
				return err
			}
		}
	} else {
		// A later connect may own more keys (the status line): what they
		// were before is what this file had.
		for k, v := range prev {
			if _, ok := st.Prev[k]; !ok {
				st.Prev[k] = v
			}
		}
		if exists && hash(old) != st.Written {
			st.Edited = true
		}
		if exists {
			b := fmt.Sprintf("%s.keypool-backup-%s", e.path, time.Now().Format("20060102-150405.000"))
			if err := writeFile(b, old, 0o600); err != nil {
				return err
			}
		}
	}
	if err := writeFile(e.path, next, mode); err != nil {
		return err
	}
	st.Written = hash(next)
	sb, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s: %w", statePath(e.path), err)
	}
	return writeFile(statePath(e.path), sb, 0o600)
}

func (e edit) undo() error {
	sb, err := os.ReadFile(statePath(e.path))
	if errors.Is(err, os.ErrNotExist) {
		return nil // not connected
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(sb, &st); err != nil {
		return fmt.Errorf("%s: %w", statePath(e.path), err)
	}
	cur, err := os.ReadFile(e.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case hash(cur) == st.Written && !st.Edited:
		// Nobody touched it since: put back exactly what was there, with
		// its mode.
		if st.Backup == "" {
			err = os.Remove(e.path)
		} else {
			mode := st.Mode
			if mode == 0 {
				mode = fileMode(st.Backup)
			}
			var old []byte
			if old, err = os.ReadFile(st.Backup); err == nil {
				err = writeFile(e.path, old, mode)
			}
		}
		if err != nil {
			return err
		}
	default:
		next, err := e.revert(cur, st.Prev)
		if err != nil {
			return fmt.Errorf("%s: %w (left untouched)", e.path, err)
		}
		if err := writeFile(e.path, next, fileMode(e.path)); err != nil {
			return err
		}
	}
	if err := os.Remove(statePath(e.path)); err != nil {
		return err
	}
	if st.MadeDir {
		os.Remove(filepath.Dir(e.path)) // only when empty: anything else in it stays
	}
	return nil
}

// jsonEdit sets values (strings, or objects as maps) at dotted paths,
// keeping everything else (order, formatting, unknown keys).
func jsonEdit(path string, set map[string]any) edit {
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			if len(bytes.TrimSpace(old)) == 0 {
				old = []byte("{}\n")
			}
			if !gjson.ValidBytes(old) || !gjson.ParseBytes(old).IsObject() {
				return nil, nil, errors.New("not a JSON object")
			}
			prev := map[string]*string{}
			out := old
			for _, k := range sortedKeys(set) {
				if r := gjson.GetBytes(out, k); r.Exists() {
					raw := r.Raw
					prev[k] = &raw
				} else {
					prev[k] = nil
				}
				var err error
				if out, err = sjson.SetBytesOptions(out, k, set[k], &sjson.Options{Optimistic: false}); err != nil {
					return nil, nil, err
				}
			}
			return out, prev, nil
		},
		revert: func(cur []byte, prev map[string]*string) ([]byte, error) {
			if !gjson.ValidBytes(cur) {
				return nil, errors.New("not valid JSON")
			}
			out := cur
			var err error
			for _, k := range sortedKeys(prev) {
				if p := prev[k]; p != nil {
					out, err = sjson.SetRawBytes(out, k, []byte(*p))
				} else {
					out, err = sjson.DeleteBytes(out, k)
				}
				if err != nil {
					return nil, err
				}
			}
			return out, nil
		}}
}

var dotenvLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// dotenvEdit sets KEY=value lines, keeping every other line as it is.
func dotenvEdit(path string, set map[string]string) edit {
	apply := func(old []byte, vals map[string]*string) ([]byte, map[string]*string) {
		prev := map[string]*string{}
		lines := strings.Split(strings.TrimSuffix(string(old), "\n"), "\n")
		if len(old) == 0 {
			lines = nil
		}
		done := map[string]bool{}
		var out []string
		for _, l := range lines {
			m := dotenvLine.FindStringSubmatch(l)
			if m == nil {
				out = append(out, l)
				continue
			}
			v, ours := vals[m[1]]
			if !ours {
				out = append(out, l)
				continue
			}
			line := l
			prev[m[1]] = &line
			if !done[m[1]] && v != nil {
				out = append(out, *v)
			}
			done[m[1]] = true
		}
		for _, k := range sortedKeys(vals) {
			if !done[k] && vals[k] != nil {
				out = append(out, *vals[k])
			}
			if _, seen := prev[k]; !seen {
				prev[k] = nil
			}
		}
		if len(out) == 0 {
			return nil, prev
		}
		return []byte(strings.Join(out, "\n") + "\n"), prev
	}
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			vals := map[string]*string{}
			for k, v := range set {
				q, err := dotenvValue(v)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", k, err)
				}
				line := k + "=" + q
				vals[k] = &line
			}
			out, prev := apply(old, vals)
			return out, prev, nil
		},
		revert: func(cur []byte, prev map[string]*string) ([]byte, error) {
			out, _ := apply(cur, prev)
			return out, nil
		}}
}

// dotenvValue spells v so that a .env parser of the dotenv kind (the npm
// package Gemini CLI uses) reads back exactly v: bare when nothing in it is
// special there, else in single quotes (kept literally), else in double
// quotes (where only \n and \r are expanded).
func dotenvValue(v string) (string, error) {
	if strings.ContainsAny(v, "\r\n") {
		return "", errors.New("a value with a line break cannot be written to a .env file")
	}
	if !strings.ContainsAny(v, " \t#'\"`\\$") {
		return v, nil // '#' would start a comment, outer spaces are trimmed, quotes would be taken off
	}
	if !strings.Contains(v, "'") {
		return "'" + v + "'", nil
	}
	if !strings.ContainsAny(v, "\"\\") {
		return `"` + v + `"`, nil
	}
	return "", errors.New("a value with both ' and \" or \\ cannot be written to a .env file exactly")
}

var tomlHeader = regexp.MustCompile(`^\s*\[`)

// legacyCodexEdit is how an earlier Keypool connected Codex: a provider of
// its own made the default. Sessions made that way are filed under
// "keypool"; it is kept to undo such a connection.
func legacyCodexEdit(path, base, key string) edit {
	const section = "[model_providers.keypool]"
	// The key is inline: Codex reads env_key only from its environment and
	// stops with "Missing environment variable" when a new terminal lacks
	// it, while experimental_bearer_token is sent as Authorization: Bearer
	// from the file alone (the file is made 0600).
	body := []string{`name = "Keypool"`, "base_url = " + tomlString(base+"/openai/v1"), "experimental_bearer_token = " + tomlString(key), `wire_api = "responses"`}
	var isProvider = regexp.MustCompile(`^\s*model_provider\s*=`)
	splice := func(old []byte, provider *string, sectionLines []string) ([]byte, map[string]*string, error) {
		lines, err := tomlLines(old)
		if err != nil {
			return nil, nil, err
		}
		prev := map[string]*string{"model_provider": nil, "section": nil}
		var out []string
		inTop, inOurs, placed := true, false, false
		var oursOld []string
		for i, l := range lines {
			if tomlHeader.MatchString(l) {
				if inTop && !placed && provider != nil {
					out = append(out, *provider)
					placed = true
				}
				inTop = false
				inOurs = strings.TrimSpace(l) == section
				if inOurs {
					oursOld = append(oursOld, l)
					continue
				}
			} else if inOurs {
				oursOld = append(oursOld, l)
				continue
			}
			if inTop && isProvider.MatchString(l) {
				line := l
				prev["model_provider"] = &line
				if provider != nil && !placed {
					out = append(out, *provider)
					placed = true
				}
				continue
			}
			_ = i
			out = append(out, l)
		}
		if inTop && !placed && provider != nil {
			out = append(out, *provider)
		}
		if len(oursOld) > 0 {
			s := strings.Join(oursOld, "\n")
			prev["section"] = &s
		}
		if len(sectionLines) > 0 {
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			out = append(out, sectionLines...)
		}
		res := []byte(strings.Join(out, "\n") + "\n")
		if len(out) == 0 {
			res = nil
		}
		var probe map[string]any
		if err := toml.Unmarshal(res, &probe); err != nil {
			return nil, nil, fmt.Errorf("the edited file would not be valid TOML: %w", err)
		}
		return res, prev, nil
	}
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			p := `model_provider = "keypool"`
			return splice(old, &p, append([]string{section}, body...))
		},
		revert: func(cur []byte, prev map[string]*string) ([]byte, error) {
			var sec []string
			if s := prev["section"]; s != nil {
				sec = strings.Split(*s, "\n")
			}
			out, _, err := splice(cur, prev["model_provider"], sec)
			return out, err
		}}
}

// tomlString spells s as a TOML basic string (Go's %q may use escapes TOML
// lacks, such as \x).
// tomlLines is a TOML file's lines, once it is known to be valid TOML (a
// splice of lines must not change what a broken file means).
func tomlLines(b []byte) ([]string, error) {
	var probe map[string]any
	if err := toml.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not valid TOML: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), nil
}

func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keypool-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// A failed write or chmod must reach the check below (a shadowed err
	// here once dropped both).
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

func fileMode(p string) os.FileMode {
	if fi, err := os.Stat(p); err == nil {
		return fi.Mode().Perm()
	}
	return 0o600
}

func hash(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// sortedKeys is m's keys in order, so edits are made the same way each
// time.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
