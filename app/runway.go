package app

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"keypool/app/config"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/runway"
)

// settingAvoidRunout is the store setting that overrides the config's
// [scheduler] avoid_runout_minutes, set from the window.
const settingAvoidRunout = "avoid_runout_minutes"

// AvoidRunout is how many minutes ahead a new conversation looks past an
// account about to hit a plan or budget wall (0: off): the window's
// setting, else the config's.
func (a *App) AvoidRunout() int {
	if n, ok := savedSetting[int](a.store, settingAvoidRunout); ok {
		return n
	}
	return a.cfg.Scheduler.AvoidRunoutMinutes
}

// SetAvoidRunout saves and applies at once how many minutes ahead a new
// conversation looks past an account about to hit a wall (0: off).
func (a *App) SetAvoidRunout(minutes int) error {
	if err := a.saveMinutes(settingAvoidRunout, "avoid run-out", minutes); err != nil {
		return err
	}
	a.relay.SetAvoidRunout(time.Duration(minutes) * time.Minute)
	return nil
}

// saveMinutes saves a setting in minutes from the window, 0 (off) to a week.
func (a *App) saveMinutes(key, what string, minutes int) error {
	if minutes < 0 || minutes > config.MaxAvoidRunoutMinutes {
		return fmt.Errorf("%s: %d minutes: use 0 (off) to %d", what, minutes, config.MaxAvoidRunoutMinutes)
	}
	if err := a.store.PutSetting(key, strconv.Itoa(minutes)); err != nil {
		return fmt.Errorf("save %s: %w", what, err)
	}
	return nil
}

// applyAvoidRunout gives the relay the saved or configured setting (at
// start).
func (a *App) applyAvoidRunout() {
	a.relay.SetAvoidRunout(time.Duration(a.AvoidRunout()) * time.Minute)
}

// protocolClient names, for people, who speaks a protocol.
var protocolClient = map[Protocol]string{
	ProtocolAnthropic: "Claude",
	ProtocolResponses: "Codex",
	ProtocolGemini:    "Gemini",
	pool.ProtocolChat: "chat apps",
}

// ClientName names, for people, the clients that speak protocol p:
// "Claude", "Codex", "Gemini", "chat apps".
func ClientName(p Protocol) string { return protocolClient[p] }

// RunwayClock is the pool's runway per protocol in clock times, which stay
// true while nothing changes (the tray and the window redraw only on a
// change): "Claude runway to ≈15:40 at this pace; first reset 14:05". A
// protocol without a forecast is left out; "" when none has one.
func RunwayClock(rs []PoolRunway, now time.Time) string {
	var parts []string
	lasting := 0
	for _, r := range rs {
		who := protocolClient[r.Protocol]
		var s string
		switch r.State {
		case runway.RunsOut:
			s = who + " runway to ≈" + runway.Clock(r.RunsOut, now, time.Local) + " at this pace"
		case runway.Out:
			s = "no account can serve " + who + " now"
		case runway.Lasts:
			lasting++
			continue
		default:
			continue
		}
		if !r.NextReset.IsZero() {
			s += "; first reset " + runway.Clock(r.NextReset, now, time.Local)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 && lasting > 0 {
		return "runway: lasts at this pace"
	}
	return strings.Join(parts, " · ")
}

// printRunway writes the pool's runway and, for each account with a
// forecast, its first wall and what a percent of its windows was worth.
func printRunway(w io.Writer, h relay.Health) {
	if len(h.Runway) == 0 {
		return
	}
	var pools []string
	for _, r := range h.Runway {
		pools = append(pools, protocolClient[r.Protocol]+": "+r.Text)
	}
	fmt.Fprintf(w, "\nRunway — %s.\n", strings.Join(pools, "; "))
	for _, a := range h.Accounts {
		r := a.Runway
		if r == nil || len(r.Windows) == 0 {
			continue
		}
		line := "  " + a.ID + ": " + r.Text
		if r.Window != "" {
			line += " (" + windowLabel(r.Window) + ")"
		}
		var worth []string
		for _, win := range r.Windows {
			fams := make([]string, 0, len(win.PercentUSD))
			for f := range win.PercentUSD {
				fams = append(fams, string(f))
			}
			sort.Strings(fams)
			for _, f := range fams {
				name := f
				if name == string(pool.FamilyAll) {
					name = "other models"
				}
				worth = append(worth, fmt.Sprintf("1%% of %s ≈ $%.2f of %s", windowLabel(win.Window), win.PercentUSD[pool.Family(f)], name))
			}
		}
		if len(worth) > 0 {
			line += "; " + strings.Join(worth, ", ")
		}
		fmt.Fprintln(w, line)
	}
}
