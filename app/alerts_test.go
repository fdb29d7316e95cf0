package app_test

import (
	"strings"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/store"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/runway"
)

// Each alert is said once per episode, on a clock the test moves: the
// first paid answer after the plans ran out, the paid cap reached, and a
// pool runway under the threshold (a forecast that wavers near the mark
// does not warn again).
func TestAlertsOncePerEpisode(t *testing.T) {
	var al app.Alerts
	now := time.Date(2026, 12, 7, 14, 5, 0, 0, time.Local)
	titles := func(as []app.Alert) string {
		var s []string
		for _, a := range as {
			s = append(s, a.Title+": "+a.Text)
		}
		return strings.Join(s, " | ")
	}
	lasting := []relay.PoolRunway{{Protocol: pool.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.Lasts}}}
	runsOut := func(in time.Duration) []relay.PoolRunway {
		return []relay.PoolRunway{{Protocol: pool.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.RunsOut, RunsOut: now.Add(in)},
			NextReset: now.Add(2 * time.Hour)}}
	}
	episode := relay.PaidEpisode{Protocol: pool.ProtocolAnthropic, Plans: "Claude", Since: now, Until: now.Add(time.Hour),
		Account: "api-work", Name: "api-work", SpentUSD: 0.05}
	steps := []struct {
		name string
		h    relay.Health
		step time.Duration
		want string // the alerts' titles and texts, joined; "" for none
	}{
		{"start: runway fine", relay.Health{Runway: lasting}, 0, ""},
		{"runway drops under 30 min", relay.Health{Runway: runsOut(25 * time.Minute)}, 0,
			"Keypool: runway running short: Claude runway ≈25 min at this pace; first reset " + now.Add(2*time.Hour).Format("15:04")},
		{"still under", relay.Health{Runway: runsOut(20 * time.Minute)}, time.Minute, ""},
		{"wavers just above", relay.Health{Runway: runsOut(35 * time.Minute)}, time.Minute, ""},
		{"under again, same episode", relay.Health{Runway: runsOut(28 * time.Minute)}, time.Minute, ""},
		{"well clear", relay.Health{Runway: lasting}, time.Minute, ""},
		{"a new drop warns again", relay.Health{Runway: runsOut(10 * time.Minute)}, time.Minute, "Keypool: runway running short"},
		{"paid episode begins", relay.Health{Paying: []relay.PaidEpisode{episode}}, time.Minute,
			"Keypool: now paying per token: Claude plans are spent until 15:05 — now paying with api-work; $0.05 since 14:05"},
		{"same episode, more paid", relay.Health{Paying: []relay.PaidEpisode{func() relay.PaidEpisode { e := episode; e.SpentUSD = 0.4; return e }()}}, time.Minute, ""},
		{"plans back", relay.Health{}, time.Hour, ""},
		{"a new episode", relay.Health{Paying: []relay.PaidEpisode{func() relay.PaidEpisode { e := episode; e.Since = now.Add(2 * time.Hour); return e }()}},
			time.Minute, "Keypool: now paying per token"},
		{"cap reached", relay.Health{PaidCap: &relay.PaidCap{DailyUSD: 5, SpentUSD: 5.1, Reached: true}}, time.Minute,
			"Keypool: daily cap on paid answers reached: $5.10 paid today, the cap is $5.00"},
		{"cap still reached", relay.Health{PaidCap: &relay.PaidCap{DailyUSD: 5, SpentUSD: 5.1, Reached: true}}, time.Minute, ""},
	}
	for _, s := range steps {
		now = now.Add(s.step)
		got := titles(al.Check(s.h, now, 30))
		if s.want == "" && got != "" || s.want != "" && !strings.HasPrefix(got, s.want) {
			t.Errorf("%s: alerts %q, want %q", s.name, got, s.want)
		}
	}
	// Off: no runway warning at all.
	var off app.Alerts
	off.Check(relay.Health{Runway: lasting}, now, 0)
	if got := off.Check(relay.Health{Runway: runsOut(5 * time.Minute)}, now, 0); len(got) != 0 {
		t.Errorf("runway_minutes = 0: %q, want none", titles(got))
	}
}

// A login that is about to end is warned of 3 days and again 1 day before,
// once each, on a clock the test moves; one first seen a day before its
// end warns once.
func TestLoginEndWarnings(t *testing.T) {
	var al app.Alerts
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.Local)
	sub := store.Account{ID: "max", Name: "Max", Type: pool.KindClaudeOAuth, Enabled: true, LoginExpiry: now.Add(5 * 24 * time.Hour)}
	late := store.Account{ID: "late", Name: "Late", Type: pool.KindCodexOAuth, Enabled: true, LoginExpiry: now.Add(4*24*time.Hour + 12*time.Hour)}
	steps := []struct {
		after time.Duration
		want  []string // the accounts warned of
	}{
		{0, nil},
		{24*time.Hour + 13*time.Hour, []string{"Late"}}, // Late 2 d 23 h left
		{time.Hour, nil},
		{11 * time.Hour, []string{"Max"}}, // Max 2 d 23 h left
		{24 * time.Hour, nil},
		{12 * time.Hour, []string{"Late"}}, // Late 23 h left
		{12 * time.Hour, []string{"Max"}},  // Max 23 h left
		{12 * time.Hour, nil},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		var got []string
		for _, a := range al.CheckLogins([]store.Account{sub, late}, now) {
			got = append(got, strings.SplitN(a.Text, ":", 2)[0])
			if !strings.Contains(a.Text, "login ends in") || !strings.Contains(a.Text, "keypool login") {
				t.Errorf("step %d: text %q", i, a.Text)
			}
		}
		if strings.Join(got, ",") != strings.Join(s.want, ",") {
			t.Errorf("step %d (%v): warned %v, want %v", i, now, got, s.want)
		}
	}
	// A login first seen 20 h before its end: one warning, not two.
	fresh := store.Account{ID: "new", Name: "New", Type: pool.KindClaudeOAuth, Enabled: true, LoginExpiry: now.Add(20 * time.Hour)}
	if n := len(al.CheckLogins([]store.Account{fresh}, now)) + len(al.CheckLogins([]store.Account{fresh}, now.Add(time.Minute))); n != 1 {
		t.Errorf("a login first seen 20 h before its end: %d warnings, want 1", n)
	}
	if txt := app.LoginEndsText(sub, sub.LoginExpiry.Add(-20*time.Hour)); txt != "login ends in 20 h" {
		t.Errorf("text = %q", txt)
	}
	if txt := app.LoginEndsText(sub, sub.LoginExpiry.Add(-12*24*time.Hour-time.Hour)); txt != "login ends in 12 days" {
		t.Errorf("text = %q", txt)
	}
}
