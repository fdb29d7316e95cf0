package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// DeviceLogin runs the device-code login (Codex): it asks for a user code,
// shows it with the verification URL through opts.Progress, polls until the
// user approves it (403/404 mean "not yet"), the context ends or DeviceTimeout
// (15 min) passes, then exchanges the authorization code it got with the
// device redirect_uri. No browser is opened and no port is bound. A provider
// without a device flow returns ErrNoDeviceFlow.
func (p Provider) DeviceLogin(ctx context.Context, opts LoginOptions) (*Token, error) {
	if p.DeviceCodeURL == "" || p.DeviceTokenURL == "" {
		return nil, p.errorf("device login: %w", ErrNoDeviceFlow)
	}
	timeout := p.DeviceTimeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	data, err := p.call(ctx, opts.HTTPClient, "device code", p.DeviceCodeURL, FormatJSON, []field{{"client_id", p.ClientID}})
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, p.errorf("device login is not enabled for this server; use the browser login: %w", err)
		}
		return nil, err
	}
	var uc struct {
		DeviceAuthID string  `json:"device_auth_id"`
		UserCode     string  `json:"user_code"`
		UserCodeAlt  string  `json:"usercode"`
		Interval     flexInt `json:"interval"`
	}
	if err := json.Unmarshal(data, &uc); err != nil {
		return nil, p.errorf("device code: answer is not JSON we know")
	}
	if uc.UserCode == "" {
		uc.UserCode = uc.UserCodeAlt
	}
	if uc.DeviceAuthID == "" || uc.UserCode == "" {
		return nil, p.errorf("device code: answer has no device_auth_id or user_code")
	}
	interval := p.DevicePollInterval
	if interval <= 0 {
		interval = time.Duration(uc.Interval) * time.Second
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}

	verify := p.DeviceVerificationURL
	opts.link(Link{URL: verify, Code: uc.UserCode})
	opts.progress("To log in to " + p.label() + ", open " + verify + " and enter the code " + uc.UserCode +
		" (it expires in " + timeout.Round(time.Minute).String() + "; never share it).")
	opts.progress("Waiting for you to approve the login…")

	var grant struct {
		AuthorizationCode string `json:"authorization_code"`
		CodeChallenge     string `json:"code_challenge"`
		CodeVerifier      string `json:"code_verifier"`
	}
	// The first poll waits one interval too, as the CLI does after showing the code.
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if parent.Err() == nil {
				return nil, p.errorf("device login timed out after %s: start it again", timeout)
			}
			return nil, p.errorf("device login: %w: %w", ErrCancelled, context.Cause(parent))
		case <-timer.C:
		}
		data, err := p.call(ctx, opts.HTTPClient, "device poll", p.DeviceTokenURL, FormatJSON,
			[]field{{"device_auth_id", uc.DeviceAuthID}, {"user_code", uc.UserCode}})
		var te *TokenError
		if errors.As(err, &te) && (te.StatusCode == http.StatusForbidden || te.StatusCode == http.StatusNotFound) {
			timer.Reset(interval) // not approved yet
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				continue // the select above says why
			}
			return nil, err
		}
		if err := json.Unmarshal(data, &grant); err != nil || grant.AuthorizationCode == "" || grant.CodeVerifier == "" {
			return nil, p.errorf("device poll: answer has no authorization_code or code_verifier")
		}
		break
	}
	opts.progress("Exchanging the code…")
	tok, err := p.exchange(ctx, opts.HTTPClient, grant.AuthorizationCode, p.DeviceRedirectURL, grant.CodeVerifier, "", false)
	if err != nil {
		return nil, err
	}
	opts.progress("Logged in to " + p.label() + ".")
	return tok, nil
}
