package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Code Assist outcomes callers branch on.
var (
	// ErrValidationRequired: Google wants the account verified in a browser
	// first; the *ValidationError carries the link.
	ErrValidationRequired = errors.New("google wants this account verified before Gemini Code Assist serves it")
	// ErrUnsupportedClient: Google answered UNSUPPORTED_CLIENT.
	ErrUnsupportedClient = errors.New("google no longer serves this account through the Gemini CLI login " +
		"(UNSUPPORTED_CLIENT): consumer \"Login with Google\" for Gemini ended on 2026-06-18, and only " +
		"Gemini Code Assist Standard/Enterprise and Google Workspace accounts work; use a Gemini API key instead")
	// ErrProjectRequired: the account must name a Google Cloud project.
	ErrProjectRequired = errors.New("this account needs a Google Cloud project: give its project id (as GOOGLE_CLOUD_PROJECT would)")
)

// ValidationError is Google's VALIDATION_REQUIRED: the user must open URL,
// verify the account, and try again. It matches ErrValidationRequired.
type ValidationError struct {
	URL, Description, LearnMoreURL string
}

func (e *ValidationError) Error() string {
	s := "google account needs verification: open " + e.URL + " in a browser, verify the account, then try again"
	if e.URL == "" {
		s = "google account needs verification: open Gemini Code Assist in a browser with this account, verify it, then try again"
	}
	if e.Description != "" {
		s += " (" + e.Description + ")"
	}
	if e.LearnMoreURL != "" {
		s += "; more at " + e.LearnMoreURL
	}
	return s
}

// Is makes errors.Is(err, ErrValidationRequired) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidationRequired }

// CodeAssistError is any other failed Code Assist call.
type CodeAssistError struct {
	Method     string // loadCodeAssist, onboardUser, getOperation
	StatusCode int
	Status     string // Google's RPC status, e.g. PERMISSION_DENIED
	Reason     string // ErrorInfo reason
	Message    string
}

func (e *CodeAssistError) Error() string {
	s := fmt.Sprintf("gemini code assist %s: %d", e.Method, e.StatusCode)
	if e.Status != "" {
		s += " " + e.Status
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// projectRef is cloudaicompanionProject: a string in loadCodeAssist, an
// object {id, name} in the onboarding result.
type projectRef string

func (r *projectRef) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*r = projectRef(s)
		return nil
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = projectRef(o.ID)
	return nil
}

type tier struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
}

type ineligibleTier struct {
	ReasonCode    string `json:"reasonCode"`
	ReasonMessage string `json:"reasonMessage"`
	TierID        string `json:"tierId"`
	ValidationURL string `json:"validationUrl"`
}

type loadResponse struct {
	CurrentTier     *tier            `json:"currentTier"`
	AllowedTiers    []tier           `json:"allowedTiers"`
	Project         projectRef       `json:"cloudaicompanionProject"`
	IneligibleTiers []ineligibleTier `json:"ineligibleTiers"`
}

type operation struct {
	Name     string `json:"name"`
	Done     bool   `json:"done"`
	Response struct {
		Project projectRef `json:"cloudaicompanionProject"`
	} `json:"response"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// DiscoverProject finds the Code Assist project to send with every Gemini
// request for this account: loadCodeAssist, and when the account has no tier
// yet, onboardUser with its default allowed tier (free-tier sends no project;
// others send wantProject), polling the operation every OperationPollInterval
// until done. wantProject is the user's Google Cloud project, "" if none.
//
// Errors match ErrValidationRequired (with the link to open),
// ErrUnsupportedClient, ErrProjectRequired, or are a *CodeAssistError.
func (p Provider) DiscoverProject(ctx context.Context, client *http.Client, accessToken, wantProject string) (string, error) {
	if p.CodeAssistURL == "" {
		return "", p.errorf("discover project: the provider has no Code Assist endpoint")
	}
	base := strings.TrimRight(p.CodeAssistURL, "/")
	meta := map[string]string{"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
	metaWithProject := meta
	loadReq := map[string]any{"metadata": meta}
	if wantProject != "" {
		metaWithProject = map[string]string{"duetProject": wantProject}
		for k, v := range meta {
			metaWithProject[k] = v
		}
		loadReq = map[string]any{"cloudaicompanionProject": wantProject, "metadata": metaWithProject}
	}

	var lr loadResponse
	if err := p.codeAssist(ctx, client, accessToken, "loadCodeAssist", http.MethodPost, base+":loadCodeAssist", loadReq, &lr); err != nil {
		return "", err
	}
	if lr.CurrentTier == nil {
		for _, t := range lr.IneligibleTiers {
			if t.ReasonCode == "VALIDATION_REQUIRED" && t.ValidationURL != "" {
				return "", &ValidationError{URL: t.ValidationURL, Description: cleanText(t.ReasonMessage)}
			}
		}
	}
	if lr.CurrentTier != nil {
		switch {
		case lr.Project != "":
			return string(lr.Project), nil
		case wantProject != "":
			return wantProject, nil
		}
		return "", lr.noProject()
	}

	onboardTier, found := tier{ID: "legacy-tier"}, false
	for _, t := range lr.AllowedTiers {
		if t.IsDefault {
			onboardTier, found = t, true
			break
		}
	}
	if !found && wantProject == "" && lr.unsupported() {
		return "", fmt.Errorf("gemini: %w", ErrUnsupportedClient)
	}
	onboardReq := map[string]any{"tierId": onboardTier.ID, "metadata": meta}
	if onboardTier.ID != "free-tier" && wantProject != "" {
		// The free tier uses a managed project; naming one fails onboarding.
		onboardReq = map[string]any{"tierId": onboardTier.ID, "cloudaicompanionProject": wantProject, "metadata": metaWithProject}
	}
	var op operation
	if err := p.codeAssist(ctx, client, accessToken, "onboardUser", http.MethodPost, base+":onboardUser", onboardReq, &op); err != nil {
		return "", err
	}
	interval := p.OperationPollInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for !op.Done {
		if op.Name == "" {
			return "", p.errorf("onboard user: the operation is not done and has no name to poll")
		}
		select {
		case <-ctx.Done():
			return "", p.errorf("onboard user: %w", context.Cause(ctx))
		case <-timer.C:
		}
		name := op.Name
		op = operation{}
		if err := p.codeAssist(ctx, client, accessToken, "getOperation", http.MethodGet, base+"/"+strings.TrimLeft(name, "/"), nil, &op); err != nil {
			return "", err
		}
		if op.Name == "" {
			op.Name = name
		}
		timer.Reset(interval)
	}
	if op.Error != nil {
		msg := cleanText(op.Error.Message)
		if strings.Contains(msg, "UNSUPPORTED_CLIENT") {
			return "", fmt.Errorf("gemini: %w", ErrUnsupportedClient)
		}
		return "", &CodeAssistError{Method: "onboardUser", StatusCode: op.Error.Code, Message: msg}
	}
	switch {
	case op.Response.Project != "":
		return string(op.Response.Project), nil
	case wantProject != "":
		return wantProject, nil
	}
	return "", lr.noProject()
}

func (lr *loadResponse) unsupported() bool {
	for _, t := range lr.IneligibleTiers {
		if t.ReasonCode == "UNSUPPORTED_CLIENT" {
			return true
		}
	}
	return false
}

// noProject explains why no project came back: the tiers Google refused, or
// that the account must name one.
func (lr *loadResponse) noProject() error {
	if lr.unsupported() {
		return fmt.Errorf("gemini: %w", ErrUnsupportedClient)
	}
	var reasons []string
	for _, t := range lr.IneligibleTiers {
		if t.ReasonMessage != "" {
			reasons = append(reasons, cleanText(t.ReasonMessage))
		}
	}
	if len(reasons) > 0 {
		return fmt.Errorf("gemini: %w; google says: %s", ErrProjectRequired, strings.Join(reasons, "; "))
	}
	return fmt.Errorf("gemini: %w", ErrProjectRequired)
}

// googleError is Google's RPC error body.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type     string            `json:"@type"`
			Reason   string            `json:"reason"`
			Domain   string            `json:"domain"`
			Metadata map[string]string `json:"metadata"`
			Links    []struct {
				Description string `json:"description"`
				URL         string `json:"url"`
			} `json:"links"`
		} `json:"details"`
	} `json:"error"`
}

// codeAssist makes one Code Assist call and decodes a 2xx answer into out.
func (p Provider) codeAssist(ctx context.Context, client *http.Client, accessToken, method, verb, endpoint string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return p.errorf("%s: %w", method, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, verb, endpoint, body)
	if err != nil {
		return p.errorf("%s: %w", method, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, data, err := p.roundTrip(client, method, req, "application/json")
	if err != nil {
		return err
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			return p.errorf("%s: answer is not JSON we know: %w", method, err)
		}
		return nil
	}
	return classifyGoogleError(method, resp.StatusCode, data, accessToken)
}

func classifyGoogleError(method string, status int, data []byte, accessToken string) error {
	var ge googleError
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		var arr []googleError
		if json.Unmarshal(data, &arr) == nil && len(arr) > 0 {
			ge = arr[0]
		}
	} else {
		_ = json.Unmarshal(data, &ge)
	}
	e := &CodeAssistError{Method: method, StatusCode: status, Status: ge.Error.Status, Message: cleanText(ge.Error.Message, accessToken)}
	var validation *ValidationError
	for _, d := range ge.Error.Details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
			e.Reason = d.Reason
			if d.Reason == "VALIDATION_REQUIRED" {
				if validation == nil {
					validation = &ValidationError{}
				}
				if validation.URL == "" {
					validation.URL = d.Metadata["validation_link"]
				}
			}
		case strings.HasSuffix(d.Type, "google.rpc.Help"):
			for i, l := range d.Links {
				if validation == nil {
					validation = &ValidationError{}
				}
				if i == 0 {
					// The first link is the one to verify at.
					validation.URL, validation.Description = l.URL, cleanText(l.Description)
				} else if strings.EqualFold(strings.TrimSpace(l.Description), "learn more") || strings.Contains(l.URL, "support.google.com") {
					validation.LearnMoreURL = l.URL
				}
			}
		}
	}
	if status == http.StatusForbidden && e.Reason == "VALIDATION_REQUIRED" && validation != nil {
		return validation
	}
	if e.Reason == "UNSUPPORTED_CLIENT" || strings.Contains(e.Message, "UNSUPPORTED_CLIENT") ||
		strings.Contains(e.Message, "no longer supported for Gemini Code Assist for individuals") {
		return fmt.Errorf("gemini code assist %s: %w", method, ErrUnsupportedClient)
	}
	return e
}
