package clients

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Codex files every session under the model provider that recorded it (the
// rollout's session_meta and the threads table of $CODEX_HOME/state_5.sqlite),
// and resumes a session only under that provider: switching Codex to a
// provider of Keypool's own hid the sessions made before, and broke the
// ones made through Keypool once it was gone. So Connect keeps Codex's
// built-in "openai" provider and points it at Keypool with the top-level
// openai_base_url; sessions stay "openai" before, during and after.
//
// Checked with codex-cli 0.171.0, offline against a local fake (2026-12-07):
//   - with openai_base_url set, Codex first asks GET {base}/responses to
//     upgrade to a WebSocket; a 426 answer makes it fall back to POST and
//     SSE at once (404 costs seven tries, about 6 s; 400 is fatal), which
//     is what Keypool answers;
//   - it presents the login of $CODEX_HOME/auth.json: a ChatGPT login's
//     access token (which Keypool never forwards), or an API key;
//     CODEX_API_KEY in $CODEX_HOME/.env is not used; a project's
//     .codex/config.toml may not set openai_base_url or a provider.
//
// A relay that needs a client key gets one through auth.json in API-key
// mode, written whole and put back whole by Disconnect (a ChatGPT login
// there is kept in the backup meanwhile).

// codexEdits are the files Connect changes for Codex: config.toml's
// openai_base_url, and auth.json when the relay needs a key.
func codexEdits(home, base, key string) []edit {
	es := []edit{baseURLEdit(filepath.Join(home, ".codex", "config.toml"), base+"/openai/v1")}
	if key != "" && key != NoKey {
		auth, _ := json.Marshal(map[string]any{"auth_mode": "apikey", "OPENAI_API_KEY": key})
		e := wholeFileEdit(filepath.Join(home, ".codex", "auth.json"), append(auth, '\n'))
		e.secret = true
		es = append(es, e)
	} else if key == "" {
		// Disconnect: auth.json is undone if a connect wrote it.
		es = append(es, wholeFileEdit(filepath.Join(home, ".codex", "auth.json"), nil))
	}
	return es
}

// NoKey is the key a CLI is given when the relay needs none.
const NoKey = "keypool"

var (
	isBaseURL  = regexp.MustCompile(`^\s*openai_base_url\s*=`)
	isProvider = regexp.MustCompile(`^\s*model_provider\s*=\s*"([^"]*)"`)
)

// isKeypoolProvider reports a line that makes Keypool's own provider
// Codex's default.
func isKeypoolProvider(l string) bool {
	m := isProvider.FindStringSubmatch(l)
	return m != nil && m[1] == "keypool"
}

// baseURLEdit sets the top-level openai_base_url of a config.toml, line by
// line so comments and everything else stay. A config whose default
// provider is not the built-in one is refused: openai_base_url would not
// reach it.
func baseURLEdit(path, url string) edit {
	// splice sets (line) or removes (nil) openai_base_url; restore, when
	// removing, is a model_provider line to put back.
	splice := func(old []byte, line, restore *string) ([]byte, map[string]*string, error) {
		lines, err := tomlLines(old)
		if err != nil {
			return nil, nil, err
		}
		prev := map[string]*string{"openai_base_url": nil, "model_provider": nil}
		var out []string
		inTop, placed := true, false
		for _, l := range lines {
			if inTop && isKeypoolProvider(l) && line != nil {
				// An earlier Keypool's (or a hand-made) provider of its
				// own as the default: the built-in one takes over; the
				// provider's table stays, so the sessions it filed open
				// with -c model_provider=keypool.
				old := l
				prev["model_provider"] = &old
				continue
			}
			if tomlHeader.MatchString(l) {
				if inTop && !placed && line != nil {
					out = append(out, *line)
					placed = true
				}
				inTop = false
			}
			if inTop && isBaseURL.MatchString(l) {
				old := l
				prev["openai_base_url"] = &old
				if line != nil && !placed {
					out = append(out, *line)
					placed = true
				}
				continue
			}
			out = append(out, l)
		}
		if inTop && !placed && line != nil {
			out = append(out, *line)
		}
		if line == nil && restore != nil {
			out = append([]string{*restore}, out...)
		}
		if len(out) == 0 {
			return nil, prev, nil
		}
		return []byte(strings.Join(out, "\n") + "\n"), prev, nil
	}
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			for _, l := range strings.Split(string(old), "\n") {
				if tomlHeader.MatchString(l) {
					break
				}
				if m := isProvider.FindStringSubmatch(l); m != nil && m[1] != "openai" && m[1] != "keypool" {
					return nil, nil, fmt.Errorf("the default model provider in Codex's config is %q: Keypool points the built-in openai provider at itself, "+
						"which keeps every session under one provider; remove model_provider (or set it to \"openai\") and connect again", m[1])
				}
			}
			line := "openai_base_url = " + tomlString(url)
			return splice(old, &line, nil)
		},
		revert: func(cur []byte, prev map[string]*string) ([]byte, error) {
			if p := prev["openai_base_url"]; p != nil {
				// It had one of its own: put it back in place.
				out, _, err := splice(cur, p, prev["model_provider"])
				return out, err
			}
			out, _, err := splice(cur, nil, prev["model_provider"])
			return out, err
		}}
}

// wholeFileEdit replaces a file's content with content, remembering the
// old content whole (nil content: an edit that only undoes).
func wholeFileEdit(path string, content []byte) edit {
	return edit{path: path,
		set: func(old []byte) ([]byte, map[string]*string, error) {
			var prev *string
			if old != nil {
				s := string(old)
				prev = &s
			}
			return content, map[string]*string{"file": prev}, nil
		},
		revert: func(_ []byte, prev map[string]*string) ([]byte, error) {
			if p := prev["file"]; p != nil {
				return []byte(*p), nil
			}
			return nil, nil
		}}
}

// undoLegacyCodex undoes a connection an earlier Keypool made (its own
// provider as Codex's default), if there is one.
func undoLegacyCodex(home string) error {
	path := filepath.Join(home, ".codex", "config.toml")
	b, err := os.ReadFile(statePath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s: %w", statePath(path), err)
	}
	if _, legacy := st.Prev["section"]; !legacy {
		return nil
	}
	return legacyCodexEdit(path, "", "").undo()
}
