package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/runway"
)

// statusLineWait bounds the whole question to the running relay: Claude
// Code runs the status line after every message and waits for it.
const statusLineWait = 40 * time.Millisecond

// StatusLine writes the one line Claude Code's statusLine setting shows,
// for the session whose status-line JSON is on in (its session_id): the
// account the session is bound to, that account's fullest window and the
// pool's runway, asked of the running relay. It always writes a line;
// without a relay the line says so.
func StatusLine(ctx context.Context, p Params, in io.Reader, w io.Writer) error {
	var input struct {
		SessionID string `json:"session_id"`
	}
	// A status line without a session still shows the pool.
	_ = json.NewDecoder(io.LimitReader(in, 1<<20)).Decode(&input)
	setup, err := Resolve(p)
	if err != nil {
		_, werr := fmt.Fprintln(w, "Keypool: config error (run keypool status)")
		return werr
	}
	v, err := askSession(ctx, setup.Files.ControlSocket(), input.SessionID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// A relay that is there but slow is not "not running".
		_, werr := fmt.Fprintln(w, "Keypool: busy (no answer in time)")
		return werr
	case err != nil:
		_, werr := fmt.Fprintln(w, "Keypool: not running")
		return werr
	}
	_, err = fmt.Fprintln(w, statusText(v, time.Now(), time.Local))
	return err
}

// StatusLineCommand is the shell command Claude Code's statusLine runs to
// reach the relay of p's data dir: this executable's absolute path with
// statusline and p's --config and --data-dir.
func StatusLineCommand(p Params) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find keypool's own path for the status line: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", fmt.Errorf("find keypool's own path for the status line: %w", err)
	}
	args := []string{shellQuote(headlessBeside(exe)), "statusline"}
	for _, f := range [...]struct{ flag, path string }{{"--config", p.ConfigPath}, {"--data-dir", p.DataDir}} {
		if f.path == "" {
			continue
		}
		abs, err := filepath.Abs(f.path)
		if err != nil {
			return "", err
		}
		args = append(args, f.flag, shellQuote(abs))
	}
	return strings.Join(args, " "), nil
}

// headlessBeside is the headless build next to the desktop binary exe
// (keypool-headless, as make package ships them), which starts faster for
// a command Claude Code runs after every message; exe itself when there is
// none.
func headlessBeside(exe string) string {
	dir, name := filepath.Split(exe)
	if strings.Contains(name, "headless") {
		return exe
	}
	ext := filepath.Ext(name)
	h := filepath.Join(dir, strings.TrimSuffix(name, ext)+"-headless"+ext)
	if fi, err := os.Stat(h); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return h
	}
	return exe
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// askSession asks the relay behind the control socket sock about session
// id ("": none), within statusLineWait.
func askSession(ctx context.Context, sock, id string) (relay.SessionView, error) {
	var v relay.SessionView
	ctx, cancel := context.WithTimeout(ctx, statusLineWait)
	defer cancel()
	c := http.Client{Transport: controlTransport(sock)}
	if id == "" {
		id = "-"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://keypool/v1/session/"+url.PathEscape(id), nil)
	if err != nil {
		return v, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("the running relay answered %s", resp.Status)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// statusText is a session view in one short line: "Keypool: Work · 5h 42%
// (resets 14:05) · runway: ≈3 h 10 min at this pace; first reset 14:05".
func statusText(v relay.SessionView, now time.Time, loc *time.Location) string {
	parts := []string{"Keypool: no account yet for this session"}
	if v.Account != "" {
		name := v.Name
		if name == "" {
			name = v.Account
		}
		switch {
		case v.State != pool.StateReady && v.Until.After(now):
			name += " (" + v.State.Text() + " until " + runway.Clock(v.Until, now, loc) + ")"
		case v.State != pool.StateReady && v.State != "":
			name += " (" + v.State.Text() + ")"
		}
		if v.Profile != "" {
			name += " [" + v.Profile + "]"
		}
		parts[0] = "Keypool: " + name
		if q := v.Tightest; q != nil {
			s := fmt.Sprintf("%s %.0f%%", windowLabel(q.Window), q.Utilization*100)
			if q.ResetsAt.After(now) {
				s += " (resets " + runway.Clock(q.ResetsAt, now, loc) + ")"
			}
			parts = append(parts, s)
		}
	}
	parts = append(parts, "runway: "+v.Runway.Text)
	return strings.Join(parts, " · ")
}

// windowLabel is a window's short name for people: budgets by their
// period, plan windows as the provider names them.
func windowLabel(w string) string {
	switch w {
	case runway.WindowDailyBudget:
		return "today's budget"
	case runway.WindowMonthlyBudget:
		return "month's budget"
	}
	return w
}
