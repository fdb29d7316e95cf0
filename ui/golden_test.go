package ui

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
	"keypool/app/store"
	"keypool/relay"
	"keypool/relay/pool"
)

// goldenSnapshot is a realistic pool at a fixed moment: every kind, every
// state, plan windows at different levels, a day of traffic with
// failovers and a refusal.
func goldenSnapshot() snapshot {
	now := time.Date(2026, 12, 2, 14, 5, 0, 0, time.Local)
	accts := []store.Account{
		{ID: "max", Name: "me@example.com (Claude Max)", Type: "claude-oauth", Priority: 90, Enabled: true, Status: store.StatusNeedsLogin},
		{ID: "team", Name: "Team mirror", Type: "claude-api", Priority: 50, Enabled: true},
		{ID: "work", Name: "Work key", Type: "claude-api", Priority: 40, Enabled: true, DailyBudgetUSD: 5, MonthlyBudgetUSD: 100},
		{ID: "codex", Name: "ChatGPT Plus", Type: "codex-oauth", Priority: 30, Enabled: true},
		{ID: "gemini", Name: "Gemini API key", Type: "gemini-api", Priority: 20, Enabled: true},
		{ID: "old", Name: "Old key", Type: "openai-responses", Priority: 0, Enabled: false},
	}
	reset := now.Add(3 * time.Hour)
	health := relay.Health{Status: "degraded", Time: now, Accounts: []relay.AccountHealth{
		{ID: "max", Name: accts[0].Name, Type: "claude-oauth", Priority: 90, Enabled: true, State: "needs_login"},
		{ID: "team", Name: "Team mirror", Type: "claude-api", Priority: 50, Enabled: true, State: "cooling",
			Cooldowns: []relay.CooldownInfo{{Family: "all", Reason: "rate_limited", Until: now.Add(4 * time.Minute)}},
			LastError: &relay.Failure{Time: now, Kind: relay.ErrorRateLimit, Message: "429 throttled (retry-after)"}},
		{ID: "work", Name: "Work key", Type: "claude-api", Priority: 40, Enabled: true, State: "ready",
			Budget: &relay.BudgetHealth{DailyUSD: 5, MonthlyUSD: 100, SpentTodayUSD: 3.1, SpentMonthUSD: 42},
			Quota:  []pool.Quota{{Window: "5h", Utilization: 0.42, ResetsAt: reset}, {Window: "7d", Utilization: 0.12, ResetsAt: reset}}},
		{ID: "codex", Name: "ChatGPT Plus", Type: "codex-oauth", Priority: 30, Enabled: true, State: "ready",
			Quota: []pool.Quota{{Window: "5h", Utilization: 0.93, ResetsAt: reset}, {Window: "7d", Utilization: 0.71, ResetsAt: reset}}},
		{ID: "gemini", Name: "Gemini API key", Type: "gemini-api", Priority: 20, Enabled: true, State: "ready"},
		{ID: "old", Name: "Old key", Type: "openai-responses", Priority: 0, Enabled: false, State: "disabled"},
	}, Next: map[pool.Protocol]string{pool.ProtocolAnthropic: "work", pool.ProtocolResponses: "codex", pool.ProtocolGemini: "gemini"}}
	today := []store.DayTotal{
		{Account: "work", Model: "claude-sonnet-4-5", Counts: relay.Counts{Requests: 42, Errors: 1, Server: 1}, CostUSD: 3.1,
			Usage: relay.Usage{InputTokens: 120000, OutputTokens: 30000, CacheReadTokens: 900000}},
		{Account: "team", Model: "claude-opus-4-6", Counts: relay.Counts{Requests: 7, Errors: 2, RateLimited: 2}, CostUSD: 1.2},
		{Account: "codex", Model: "gpt-5-codex", Counts: relay.Counts{Requests: 12}, CostUSD: 0.8},
	}
	recent := []relay.UsageRecord{
		{Time: now.Add(-time.Minute), Route: "messages", Model: "claude-opus-4-6", Account: "work", Status: 200, Duration: 2300 * time.Millisecond, CostUSD: 0.21, ClientID: "key-1a2b3c4d",
			Failover: []relay.FailoverStep{{Account: "team", Reason: "429 throttled (retry-after)"}}},
		{Time: now.Add(-2 * time.Minute), Route: "responses", Model: "gpt-5-codex", Account: "codex", Status: 200, Duration: 5100 * time.Millisecond, CostUSD: 0.05, ClientID: "key-1a2b3c4d"},
		{Time: now.Add(-3 * time.Minute), Route: "messages", Model: "claude-sonnet-4-5", Status: 429, Error: "the client's daily budget is spent", ClientID: "key-9f8e7d6c"},
		{Time: now.Add(-4 * time.Minute), Route: "gemini", Model: "gemini-2.5-pro", Account: "gemini", Status: 502, Duration: 30 * time.Millisecond, Error: "connection refused by account gemini", ClientID: "anonymous"},
	}
	hourly := make([]app.Hour, 24)
	for i := range hourly {
		n := (i * 7) % 13
		hourly[i] = app.Hour{Requests: int64(n), CostUSD: 0.03 * float64(n)}
	}
	return snapshot{now: now, health: health, accounts: accts, today: today, week: today, month: today, recent: recent, hourly: hourly}
}

// Each view, drawn from a fixed pool at the window's smallest size, matches
// its golden image within a small tolerance, so a layout regression fails
// the tests. KEYPOOL_UPDATE_GOLDEN=1 writes the images anew (look at them
// before committing).
func TestGoldenViews(t *testing.T) {
	f := newFixture(t)
	s := goldenSnapshot()
	views := []struct {
		name    string
		content fyne.CanvasObject
		update  func(snapshot)
	}{
		{"accounts", f.ui.accounts.content, f.ui.accounts.update},
		{"usage", f.ui.usage.content, f.ui.usage.update},
		{"activity", f.ui.activity.content, f.ui.activity.update},
	}
	// The test driver's theme, then Fyne's light one, as people with a light
	// desktop see it.
	for _, th := range []struct {
		suffix string
		look   fyne.Theme // nil: the test driver's
	}{{"", nil}, {"-light", variantTheme(theme.VariantLight)}} {
		for _, v := range views {
			t.Run(v.name+th.suffix, func(t *testing.T) {
				v.update(s)
				w := test.NewWindow(v.content)
				defer w.Close()
				if th.look != nil {
					test.ApplyTheme(t, th.look)
				}
				v.content.Show() // a tab's content is hidden while another tab is selected
				// A resize lays the content out again, with the theme's sizes.
				w.Resize(minWindow.AddWidthHeight(1, 1))
				w.Resize(minWindow)
				v.update(s)
				for _, o := range overlaps(w.Canvas()) {
					t.Errorf("texts overlap, want none to: %s", o)
				}
				matchGolden(t, filepath.Join("testdata", "golden", v.name+th.suffix+".png"), w.Canvas().Capture())
			})
		}
	}
}

// matchGolden compares img with the PNG at path: at most 0.5% of the pixels
// may differ, each channel by more than 24 of 255 (anti-aliasing).
func matchGolden(t *testing.T, path string, img image.Image) {
	t.Helper()
	if os.Getenv("KEYPOOL_UPDATE_GOLDEN") == "1" {
		os.MkdirAll(filepath.Dir(path), 0o755)
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := png.Encode(out, img); err != nil {
			t.Fatal(err)
		}
		return
	}
	in, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden image: %v (KEYPOOL_UPDATE_GOLDEN=1 writes it)", err)
	}
	defer in.Close()
	want, err := png.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: drew %v, want the golden size %v", path, img.Bounds(), want.Bounds())
	}
	differ := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := img.At(x, y).RGBA()
			r2, g2, b2, _ := want.At(x, y).RGBA()
			if far(r1, r2) || far(g1, g2) || far(b1, b2) {
				differ++
			}
		}
	}
	if share := float64(differ) / float64(b.Dx()*b.Dy()); share > 0.005 {
		got := filepath.Join(t.TempDir(), filepath.Base(path))
		if out, err := os.Create(got); err == nil {
			png.Encode(out, img)
			out.Close()
		}
		t.Errorf("%s: %.2f%% of the pixels differ, want at most 0.5%%; this run drew %s", path, 100*share, got)
	}
}

// far reports whether two 16-bit channel values differ by more than 24/255.
func far(a, b uint32) bool {
	d := int64(a) - int64(b)
	return d > 24*257 || d < -24*257
}

// The keyboard reaches every action: Tab, again and again, focuses each
// button of the Accounts view (rows included) and of Settings.
func TestKeyboardReachesEveryAction(t *testing.T) {
	f := newFixture(t)
	s := goldenSnapshot()
	f.ui.accounts.update(s)
	for _, v := range []struct {
		name    string
		content fyne.CanvasObject
		want    []string
	}{
		{"accounts", f.ui.accounts.content, []string{"Add API key…", "Log in with browser…", "Log in again", "Enable", "Edit", "Delete", "▲", "▼"}},
		{"settings", f.ui.settings.content, []string{"Save address", "Copy env for Claude Code", "Connect", "Add client key", "Copy path"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			v.content.Show()
			w := test.NewWindow(v.content)
			defer w.Close()
			w.Resize(fyne.NewSize(1280, 800))
			reached := map[string]bool{}
			for range 300 {
				w.Canvas().FocusNext()
				if b, ok := w.Canvas().Focused().(*widget.Button); ok {
					reached[b.Text] = true
				}
			}
			for _, label := range v.want {
				if !reached[label] {
					t.Errorf("Tab reaches %v, want %q among them", reached, label)
				}
			}
		})
	}
}

// forcedVariant is Fyne's default theme in one variant whatever the
// system prefers, as the deprecated theme.LightTheme and DarkTheme were.
type forcedVariant struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

func (f forcedVariant) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return f.Theme.Color(n, f.variant)
}

// variantTheme is the default theme forced to variant v.
func variantTheme(v fyne.ThemeVariant) fyne.Theme { return forcedVariant{theme.DefaultTheme(), v} }
