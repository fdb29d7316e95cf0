package app_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keypool/app"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// statusLine runs keypool statusline's work with Claude Code's JSON for
// session on standard input.
func statusLine(t *testing.T, p app.Params, session string) string {
	t.Helper()
	in := strings.NewReader(`{"hook_event_name":"Status","session_id":"` + session +
		`","model":{"id":"claude-sonnet-4-5","display_name":"Sonnet"},"workspace":{"current_dir":"/tmp"},"version":"2.1.0"}`)
	var out bytes.Buffer
	if err := app.StatusLine(context.Background(), p, in, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("status line %q is not one line", out.String())
	}
	return strings.TrimSpace(out.String())
}

// The status line names the account a session is bound to, its fullest
// window and the pool's runway; an unknown session gets the pool only; with
// no relay running it says so.
func TestStatusLine(t *testing.T) {
	reset := time.Now().Add(3 * time.Hour)
	up := relaytest.New()
	defer up.Close()
	up.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "ok", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status":         "allowed",
		"Anthropic-Ratelimit-Unified-5h-Utilization": "0.42", "Anthropic-Ratelimit-Unified-5h-Reset": strconv.FormatInt(reset.Unix(), 10),
		"Anthropic-Ratelimit-Unified-7d-Utilization": "0.18", "Anthropic-Ratelimit-Unified-7d-Reset": strconv.FormatInt(reset.Add(72*time.Hour).Unix(), 10)}}
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, up.URL, up.URL), DataDir: filepath.Join(dir, "data")}

	if got := statusLine(t, p, "s-1"); got != "Keypool: not running" {
		t.Errorf("no relay: %q", got)
	}
	r := start(t, p)
	if code, body := r.post(t, "s-1"); code != 200 {
		t.Fatalf("request: %d %s", code, body)
	}
	bound := statusLine(t, p, "s-1")
	want := "Keypool: A · 5h 42% (resets " + reset.Local().Format("15:04")
	if reset.Local().Day() != time.Now().Local().Day() {
		want = "Keypool: A · 5h 42% (resets " + reset.Local().Format("Mon 15:04")
	}
	if !strings.HasPrefix(bound, want) || !strings.Contains(bound, " · runway: ") {
		t.Errorf("bound session: %q, want it to start %q and show the pool", bound, want)
	}
	// One reading is no pace: status says so for a rather than guess; the
	// pool lasts, since b is a key without a budget.
	var st bytes.Buffer
	if err := app.Status(context.Background(), p, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.String(), "\nRunway — Claude: lasts at this pace; Gemini: lasts at this pace; chat apps: lasts at this pace.\n") || !strings.Contains(st.String(), "  a: no forecast yet") {
		t.Errorf("status:\n%s\nwant the pool lasting and a's runway unknown", st.String())
	}
	if got := statusLine(t, p, "never-seen"); !strings.HasPrefix(got, "Keypool: no account yet for this session · runway: ") {
		t.Errorf("unknown session: %q", got)
	}
	// Claude Code may run it before a session has an id.
	if got := statusLine(t, p, ""); !strings.HasPrefix(got, "Keypool: no account yet") {
		t.Errorf("no session id: %q", got)
	}
	r.stop()
	if got := statusLine(t, p, "s-1"); got != "Keypool: not running" {
		t.Errorf("after the relay stopped: %q", got)
	}
}
