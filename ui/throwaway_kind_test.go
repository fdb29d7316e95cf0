package ui

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"keypool/app"
	"keypool/app/cli"
	"keypool/app/config"
	"keypool/relay/anthropic"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// throwawayKind is an API-key kind that exists only in this file: a
// Claude-compatible service that takes its key in a header of its own. If
// a kind really is one row of relay/provider's table, registering it here
// is all it takes for the window, the commands, the config file and the
// relay to know it (docs/providers.md).
const throwawayKind pool.Kind = "throwaway-api"

func init() {
	provider.Register(&provider.Provider{
		Kind: throwawayKind, Label: "Throwaway API", Vendor: "Throwaway", Mark: provider.Mark{Letter: "T", RGB: 0x336699},
		Protocols:   []pool.Protocol{pool.ProtocolAnthropic},
		API:         provider.APIAnthropic,
		NeedsAPIURL: true,
		Base:        func(a pool.Account) string { return a.APIURL },
		Auth: func(h http.Header, _ pool.Account, key string) {
			h.Del("X-Api-Key")
			h.Del("Authorization")
			h.Set("X-Throwaway-Key", key)
		},
		NewTap:        func() provider.Tap { return new(anthropic.StreamTap) },
		JSONUsage:     anthropic.ResponseUsage,
		Classify:      anthropic.Classify,
		StreamOpening: anthropic.StreamOpening,
	})
}

func TestThrowawayKindIsEverywhere(t *testing.T) {
	// The window's "Add an API key" dialog offers it; an account added
	// there is served by the relay, with the kind's own auth header.
	f := newFixture(t)
	form, _ := f.ui.accounts.newAddForm()
	if !slices.Contains(form.kind.Options, string(throwawayKind)) {
		t.Fatalf("the add-key dialog's types are %q, want %s among them", form.kind.Options, throwawayKind)
	}
	form.kind.SetSelected(string(throwawayKind))
	test.Type(form.id, "work")
	test.Type(form.apiURL, f.up.URL)
	test.Type(form.key, "throwaway-secret")
	if err := form.submit(f.ui); err != nil {
		t.Fatal(err)
	}
	f.core.ReloadAccounts()
	if code := f.post("hello"); code != http.StatusOK || f.up.Count() != 1 {
		t.Fatalf("a request with only the throwaway account: %d, upstream called %d times; want 200, once", code, f.up.Count())
	}
	if got := f.up.Requests()[0].Header; got.Get("X-Throwaway-Key") != "throwaway-secret" || got.Get("X-Api-Key") != "" {
		t.Errorf("the upstream saw X-Throwaway-Key %q and X-Api-Key %q, want the account's key in the kind's own header only",
			got.Get("X-Throwaway-Key"), got.Get("X-Api-Key"))
	}
	f.refresh()
	if letter, _, ok := app.KindMark(throwawayKind); !ok || letter != "T" {
		t.Errorf("the kind's mark is %q (%v), want its row's T", letter, ok)
	}
	if got := f.ui.snapshot(true).stateText(app.Account{ID: "work"}); got != "ready" {
		t.Errorf("the account's state: %q, want ready", got)
	}

	// keypool accounts add --help names it, with what it needs.
	var help bytes.Buffer
	cli.Run(context.Background(), []string{"accounts", "add", "--help"}, strings.NewReader(""), io.Discard, &help, nil)
	if !strings.Contains(help.String(), "throwaway-api (Throwaway API, with --api-url)") {
		t.Errorf("keypool accounts add --help:\n%s\nwant it to name throwaway-api (Throwaway API, with --api-url)", help.String())
	}

	// The config file takes it, and asks for what its row requires.
	good := "[[accounts]]\ntype = \"throwaway-api\"\nid = \"t\"\napi_key = \"k\"\napi_url = \"http://127.0.0.1:1\"\n"
	if _, err := config.Parse("config.toml", []byte(good)); err != nil {
		t.Errorf("a config with a throwaway-api account: %v, want it accepted", err)
	}
	noURL := "[[accounts]]\ntype = \"throwaway-api\"\nid = \"t\"\napi_key = \"k\"\n"
	if _, err := config.Parse("config.toml", []byte(noURL)); err == nil || !strings.Contains(err.Error(), "api_url") {
		t.Errorf("a throwaway-api account without api_url: %v, want an error naming api_url", err)
	}
	bad := "[[accounts]]\ntype = \"throwaway-apx\"\nid = \"t\"\napi_key = \"k\"\n"
	if _, err := config.Parse("config.toml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "throwaway-api") {
		t.Errorf("a config with an unknown type: %v, want the error to list throwaway-api among the types", err)
	}
}
