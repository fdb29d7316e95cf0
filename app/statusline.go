package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"keypool/relay"
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
	if err != nil {
		_, werr := fmt.Fprintln(w, "Keypool: not running")
		return werr
	}
	_, err = fmt.Fprintln(w, statusText(v, time.Now(), time.Local))
	return err
}

// askSession asks the relay behind the control socket sock about session
// id ("": none), within statusLineWait.
func askSession(ctx context.Context, sock, id string) (relay.SessionView, error) {
	var v relay.SessionView
	ctx, cancel := context.WithTimeout(ctx, statusLineWait)
	defer cancel()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
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
// (resets 14:05) · pool ≈3 h 10 min; first reset 14:05".
func statusText(v relay.SessionView, now time.Time, loc *time.Location) string {
	parts := []string{"Keypool: no account yet for this session"}
	if v.Account != "" {
		name := v.Name
		if name == "" {
			name = v.Account
		}
		switch {
		case v.State != "ready" && v.Until.After(now):
			name += " (" + strings.ReplaceAll(v.State, "_", " ") + " until " + runway.Clock(v.Until, now, loc) + ")"
		case v.State != "ready" && v.State != "":
			name += " (" + strings.ReplaceAll(v.State, "_", " ") + ")"
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
	parts = append(parts, "pool "+v.Runway.Text)
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
