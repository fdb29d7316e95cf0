package ui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
	"keypool/app/store"
)

// A relay beyond loopback without TLS sends client keys in the clear:
// Settings says so under the address, and so does saving such an
// address; on loopback it says nothing of it.
func TestSettingsPlainHTTPWarning(t *testing.T) {
	const clear = "client keys travel in the clear"
	t.Run("listening_beyond_loopback", func(t *testing.T) {
		f := newFixtureWith(t, func(p *app.Params) {
			// A client key first: a host beyond loopback needs one. The
			// relay still serves on the fixture's 127.0.0.1 listener.
			st, err := store.Open(filepath.Join(p.DataDir, "keypool.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, _, err := (app.ClientKeyStore{Store: st, Keys: p.Keychain}).AddClientKey("laptop"); err != nil {
				t.Fatal(err)
			}
			p.Host = "0.0.0.0"
		})
		if text := allText(f.ui.settings.content); !strings.Contains(text, clear) {
			t.Errorf("Settings:\n%s\nwant the warning that %s", text, clear)
		}
	})
	t.Run("saving_a_host_beyond_loopback", func(t *testing.T) {
		f := newFixture(t)
		if text := allText(f.ui.settings.content); strings.Contains(text, clear) {
			t.Errorf("Settings on loopback:\n%s\nwant no warning", text)
		}
		if _, err := f.core.AddClientKey("laptop"); err != nil {
			t.Fatal(err)
		}
		var host *widget.Entry
		eachObject(f.ui.settings.content, func(o fyne.CanvasObject) bool {
			if e, ok := o.(*widget.Entry); ok && e.Text == "127.0.0.1" {
				host = e
			}
			return host == nil
		})
		if host == nil {
			t.Fatal("no host field showing 127.0.0.1 in Settings")
		}
		host.SetText("0.0.0.0")
		test.Tap(findButton(f.ui.settings.content, "Save address"))
		var shown strings.Builder
		for _, o := range f.ui.win.Canvas().Overlays().List() {
			eachObject(o, func(c fyne.CanvasObject) bool {
				if l, ok := c.(*widget.Label); ok {
					shown.WriteString(l.Text + "\n")
				}
				return true
			})
		}
		if !strings.Contains(shown.String(), "next start") || !strings.Contains(shown.String(), clear) {
			t.Errorf("after saving 0.0.0.0 the window says:\n%s\nwant it saved, and the warning that %s", shown.String(), clear)
		}
	})
}

// Settings says which Keypool this is: its version, commit and build date.
func TestSettingsShowsTheVersion(t *testing.T) {
	f := newFixture(t)
	want := "Keypool " + app.Version().String()
	if text := allText(f.ui.settings.content); !strings.Contains(text, want) || !strings.Contains(want, "0.0.0-dev") {
		t.Errorf("Settings:\n%s\nwant %q (a test build: 0.0.0-dev)", text, want)
	}
}

// The first time the window shows, Keypool asks whether it may look for
// new versions; the answer is kept, Settings changes it, and a newer
// release shows in Settings and in the tray.
func TestUpdateQuestionAndSettings(t *testing.T) {
	f := newFixture(t)
	f.ui.show()
	if f.ui.updateQuestion == nil {
		t.Fatal("the first show asked nothing, want the update question")
	}
	f.ui.updateQuestion.Confirm() // "Check daily"
	if on, asked := f.core.UpdateCheck(); !on || !asked {
		t.Errorf("after Check daily: UpdateCheck = %v, %v; want on, asked", on, asked)
	}
	if !f.ui.settings.updates.Checked {
		t.Error("Settings' check box is off after the answer, want it on")
	}
	f.ui.settings.updates.SetChecked(false)
	if on, _ := f.core.UpdateCheck(); on {
		t.Error("unchecking Settings' box left the check on")
	}
	f.ui.updateQuestion = nil
	f.ui.askedUpdates.Store(false)
	f.ui.show()
	if f.ui.updateQuestion != nil {
		t.Error("asked again after an answer")
	}

	// A newer release, as the check saves it.
	f.core.Store().PutSetting("update_available", `{"version":"99.0.0","notes":"https://example.com/notes/99.0.0"}`)
	f.ui.settings.updates.SetChecked(true)
	f.refresh()
	f.settle()
	if text := allText(f.ui.settings.content); !strings.Contains(text, "Keypool 99.0.0 is available") {
		t.Errorf("Settings:\n%s\nwant Keypool 99.0.0 is available", text)
	}
	if item := findItem(trayMenu(f.ui.snapshot(true), f.ui.trayActions()), "Keypool 99.0.0 is available: release notes…"); item == nil {
		t.Errorf("tray menu: %q, want the newer release with its notes", labels(trayMenu(f.ui.snapshot(true), f.ui.trayActions())))
	}
}

// Every view fits the window at its smallest: nothing in it (a label
// that does not wrap, a row of buttons) asks for more width, which would
// push controls such as Settings' Port and Save address out of sight.
func TestViewsFitTheSmallestWindow(t *testing.T) {
	f := newFixture(t)
	f.refresh()
	for _, item := range f.ui.tabs.Items {
		if w := item.Content.MinSize().Width; w > minWindow.Width {
			t.Errorf("%s needs %.0f px of width, more than the smallest window's %.0f", item.Text, w, minWindow.Width)
		}
	}
	if w := f.ui.win.Content().MinSize().Width; w > minWindow.Width {
		t.Errorf("the window's content needs %.0f px of width, more than %.0f", w, minWindow.Width)
	}
}
