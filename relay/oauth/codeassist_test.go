package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDiscoverProject(t *testing.T) {
	const validationLink = "https://accounts.google.com/signin/continue?validate=1"
	tests := []struct {
		name        string
		want        string // wantProject argument
		load        reply
		onboard     *reply
		ops         []reply // answers to the operation polls, in order
		checkOnb    func(t *testing.T, body map[string]any)
		wantProject string
		wantPolls   int
		wantErr     error
		wantText    []string
	}{
		{
			name:        "existing_project",
			load:        reply{200, nil, `{"currentTier":{"id":"standard-tier"},"cloudaicompanionProject":"proj-existing"}`},
			wantProject: "proj-existing",
		},
		{
			name:        "current_tier_without_project_uses_the_given_one",
			want:        "my-proj",
			load:        reply{200, nil, `{"currentTier":{"id":"standard-tier"}}`},
			wantProject: "my-proj",
		},
		{
			name:    "current_tier_without_any_project",
			load:    reply{200, nil, `{"currentTier":{"id":"standard-tier"},"ineligibleTiers":[{"reasonCode":"X","reasonMessage":"needs a project"}]}`},
			wantErr: ErrProjectRequired, wantText: []string{"needs a project"},
		},
		{
			name:    "free_tier_onboarding_finishes_after_two_polls",
			load:    reply{200, nil, `{"allowedTiers":[{"id":"legacy-tier"},{"id":"free-tier","isDefault":true}]}`},
			onboard: &reply{200, nil, `{"name":"operations/op-1","done":false}`},
			ops: []reply{
				{200, nil, `{"name":"operations/op-1","done":false}`},
				{200, nil, `{"name":"operations/op-1","done":true,"response":{"cloudaicompanionProject":{"id":"managed-123","name":"Managed"}}}`},
			},
			checkOnb: func(t *testing.T, body map[string]any) {
				if body["tierId"] != "free-tier" {
					t.Errorf("tierId = %v, want free-tier", body["tierId"])
				}
				if p, ok := body["cloudaicompanionProject"]; ok {
					t.Errorf("free tier onboarding sent project %v, want none", p)
				}
			},
			want:        "ignored-for-free-tier",
			wantProject: "managed-123",
			wantPolls:   2,
		},
		{
			name:    "standard_tier_onboarding_sends_the_project",
			want:    "my-proj",
			load:    reply{200, nil, `{"allowedTiers":[{"id":"standard-tier","isDefault":true}]}`},
			onboard: &reply{200, nil, `{"name":"operations/op-2","done":true,"response":{"cloudaicompanionProject":{"id":"my-proj"}}}`},
			checkOnb: func(t *testing.T, body map[string]any) {
				if body["tierId"] != "standard-tier" || body["cloudaicompanionProject"] != "my-proj" {
					t.Errorf("onboard body = %v, want tierId standard-tier, cloudaicompanionProject my-proj", body)
				}
				if m, _ := body["metadata"].(map[string]any); m["duetProject"] != "my-proj" {
					t.Errorf("metadata = %v, want duetProject my-proj", body["metadata"])
				}
			},
			wantProject: "my-proj",
		},
		{
			name: "validation_required_403",
			load: reply{403, nil, `{"error":{"code":403,"message":"Verify your account","status":"PERMISSION_DENIED","details":[` +
				`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"VALIDATION_REQUIRED","domain":"cloudcode-pa.googleapis.com","metadata":{"validation_link":"https://fallback.example/v"}},` +
				`{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Verify your account","url":"` + validationLink + `"},{"description":"Learn more","url":"https://support.google.com/x"}]}]}}`},
			wantErr:  ErrValidationRequired,
			wantText: []string{validationLink, "support.google.com"},
		},
		{
			name:     "validation_required_tier",
			load:     reply{200, nil, `{"ineligibleTiers":[{"reasonCode":"VALIDATION_REQUIRED","reasonMessage":"Verify it","tierId":"free-tier","validationUrl":"` + validationLink + `"}]}`},
			wantErr:  ErrValidationRequired,
			wantText: []string{validationLink},
		},
		{
			name:     "unsupported_client_tier",
			load:     reply{200, nil, `{"ineligibleTiers":[{"reasonCode":"UNSUPPORTED_CLIENT","reasonMessage":"This client is no longer supported for Gemini Code Assist for individuals.","tierId":"free-tier","tierName":"Gemini Code Assist for individuals"}]}`},
			wantErr:  ErrUnsupportedClient,
			wantText: []string{"2026-06-18", "Standard/Enterprise", "Workspace"},
		},
		{
			name:     "unsupported_client_error",
			load:     reply{403, nil, `{"error":{"code":403,"message":"UNSUPPORTED_CLIENT: This client is no longer supported","status":"PERMISSION_DENIED"}}`},
			wantErr:  ErrUnsupportedClient,
			wantText: []string{"2026-06-18"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				polls int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+accessSecret {
					t.Errorf("%s: Authorization header is not the bearer access token, want it", r.URL.Path)
				}
				var rp reply
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/v1internal:loadCodeAssist":
					var body map[string]any
					if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
						t.Errorf("load body: %v, want JSON", err)
					}
					if m, _ := body["metadata"].(map[string]any); m["pluginType"] != "GEMINI" || m["ideType"] != "IDE_UNSPECIFIED" {
						t.Errorf("load metadata = %v, want pluginType GEMINI, ideType IDE_UNSPECIFIED", body["metadata"])
					}
					if tc.want != "" && body["cloudaicompanionProject"] != tc.want {
						t.Errorf("load project = %v, want %q", body["cloudaicompanionProject"], tc.want)
					}
					rp = tc.load
				case r.Method == http.MethodPost && r.URL.Path == "/v1internal:onboardUser" && tc.onboard != nil:
					var body map[string]any
					if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
						t.Errorf("onboard body: %v, want JSON", err)
					}
					if tc.checkOnb != nil {
						tc.checkOnb(t, body)
					}
					rp = *tc.onboard
				case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1internal/operations/"):
					mu.Lock()
					i := polls
					polls++
					mu.Unlock()
					if i >= len(tc.ops) {
						t.Errorf("poll %d, want at most %d", i+1, len(tc.ops))
						w.WriteHeader(http.StatusTeapot)
						return
					}
					rp = tc.ops[i]
				default:
					t.Errorf("request %s %s, want only loadCodeAssist, onboardUser and operation polls", r.Method, r.URL.Path)
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(rp.status)
				_, _ = io.WriteString(w, rp.body)
			}))
			defer srv.Close()
			p := Gemini()
			p.CodeAssistURL = srv.URL + "/v1internal"
			p.OperationPollInterval = 10 * time.Millisecond

			got, err := p.DiscoverProject(testContext(t), srv.Client(), accessSecret, tc.want)
			mu.Lock()
			gotPolls := polls
			mu.Unlock()
			if gotPolls != tc.wantPolls {
				t.Errorf("polls = %d, want %d", gotPolls, tc.wantPolls)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				for _, s := range tc.wantText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want %q in it", err, s)
					}
				}
				noSecrets(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("DiscoverProject: %v", err)
			}
			if got != tc.wantProject {
				t.Errorf("project = %q, want %q", got, tc.wantProject)
			}
		})
	}
}
