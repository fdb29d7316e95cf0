package app

import (
	"fmt"
	"strconv"
	"time"

	"keypool/app/config"
)

// settingAvoidRunout is the store setting that overrides the config's
// [scheduler] avoid_runout_minutes, set from the window.
const settingAvoidRunout = "avoid_runout_minutes"

// AvoidRunout is how many minutes ahead a new conversation looks past an
// account about to hit a plan or budget wall (0: off): the window's
// setting, else the config's.
func (a *App) AvoidRunout() int {
	if v, _ := a.store.Setting(settingAvoidRunout); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return a.cfg.Scheduler.AvoidRunoutMinutes
}

// SetAvoidRunout saves and applies at once how many minutes ahead a new
// conversation looks past an account about to hit a wall (0: off).
func (a *App) SetAvoidRunout(minutes int) error {
	if minutes < 0 || minutes > config.MaxAvoidRunoutMinutes {
		return fmt.Errorf("avoid run-out: %d minutes: use 0 (off) to %d", minutes, config.MaxAvoidRunoutMinutes)
	}
	if err := a.store.PutSetting(settingAvoidRunout, strconv.Itoa(minutes)); err != nil {
		return fmt.Errorf("save avoid run-out: %w", err)
	}
	a.relay.SetAvoidRunout(time.Duration(minutes) * time.Minute)
	return nil
}

// applyAvoidRunout gives the relay the saved or configured setting (at
// start).
func (a *App) applyAvoidRunout() {
	a.relay.SetAvoidRunout(time.Duration(a.AvoidRunout()) * time.Minute)
}
