package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds what we read from any provider answer.
const maxBody = 1 << 20

// field is one body field; value is a string or an int.
type field struct {
	key   string
	value any
}

// encodeBody encodes fields in order, as JSON or as a form.
func encodeBody(format BodyFormat, fields []field) ([]byte, string, error) {
	var b bytes.Buffer
	if format == FormatForm {
		for i, f := range fields {
			if i > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(f.key))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(fmt.Sprint(f.value)))
		}
		return b.Bytes(), "application/x-www-form-urlencoded", nil
	}
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, "", err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), "application/json", nil
}

// tokenResponse is the union of the providers' token answers.
type tokenResponse struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	IDToken      string  `json:"id_token"`
	ExpiresIn    flexInt `json:"expires_in"`
	// RefreshTokenExpiresIn is how long the refresh token (the login)
	// lasts, where the provider says (RFC 6749 leaves it out; Google and
	// several others send it): seconds.
	RefreshTokenExpiresIn flexInt `json:"refresh_token_expires_in"`
	Scope                 string  `json:"scope"`
	Account               *struct {
		UUID  string `json:"uuid"`
		Email string `json:"email_address"`
	} `json:"account"`
}

// flexInt accepts a JSON number or a numeric string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number")
	}
	*n = flexInt(f)
	return nil
}

// errorBody is the union of the providers' error answers: RFC 6749
// {"error":"x","error_description":"y"}, Codex/Anthropic
// {"error":{"code"|"type":"x","message":"y"}}, or a top-level "code".
type errorBody struct {
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
	Code             string          `json:"code"`
	Message          string          `json:"message"`
}

func parseErrorBody(body []byte) (code, desc string) {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return "", ""
	}
	code, desc = eb.Code, eb.ErrorDescription
	if desc == "" {
		desc = eb.Message
	}
	if len(eb.Error) > 0 {
		var s string
		var o struct {
			Code    string `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		switch {
		case json.Unmarshal(eb.Error, &s) == nil:
			code = s
		case json.Unmarshal(eb.Error, &o) == nil:
			if o.Code != "" {
				code = o.Code
			} else if o.Type != "" {
				code = o.Type
			}
			if desc == "" {
				desc = o.Message
			}
		}
	}
	return code, desc
}

// roundTrip sends req with accept and the provider's User-Agent (on
// http.DefaultClient when client is nil) and reads up to maxBody of the
// answer, whose body it closes.
func (p Provider) roundTrip(client *http.Client, op string, req *http.Request, accept string) (*http.Response, []byte, error) {
	req.Header.Set("Accept", accept)
	if p.UserAgent != "" {
		req.Header.Set("User-Agent", p.UserAgent)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, p.errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, p.errorf("%s: read answer: %w", op, err)
	}
	return resp, data, nil
}

// call posts fields to url and returns the answer's body on 2xx. On any other
// status it returns a *TokenError. secrets are scrubbed from any text kept.
func (p Provider) call(ctx context.Context, client *http.Client, op, endpoint string, format BodyFormat, fields []field, secrets ...string) ([]byte, error) {
	body, ctype, err := encodeBody(format, fields)
	if err != nil {
		return nil, p.errorf("%s: encode request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, p.errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", ctype)
	accept := p.Accept
	if accept == "" {
		accept = "application/json"
	}
	resp, data, err := p.roundTrip(client, op, req, accept)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	code, desc := parseErrorBody(data)
	return nil, &TokenError{
		Provider:    p.Name,
		Op:          op,
		StatusCode:  resp.StatusCode,
		Code:        cleanText(code, secrets...),
		Description: cleanText(desc, secrets...),
		RetryAfter:  retryAfter(resp.Header, time.Now()),
	}
}

// parseToken turns a 2xx token answer into a Token.
func (p Provider) parseToken(op string, data []byte, now time.Time) (*Token, error) {
	var tr tokenResponse
	if err := json.Unmarshal(data, &tr); err != nil {
		// The body may hold tokens: say only that it is not JSON we know.
		return nil, p.errorf("%s: answer is not a token response", op)
	}
	if tr.AccessToken == "" {
		return nil, p.errorf("%s: answer has no access_token", op)
	}
	t := &Token{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		IDToken:      tr.IDToken,
		Scope:        tr.Scope,
	}
	if tr.ExpiresIn > 0 {
		t.Expiry = now.Add(time.Duration(tr.ExpiresIn) * time.Second)
	} else if exp, ok := jwtExpiry(tr.AccessToken); ok {
		t.Expiry = exp
	}
	if tr.RefreshTokenExpiresIn > 0 {
		t.RefreshExpiry = now.Add(time.Duration(tr.RefreshTokenExpiresIn) * time.Second)
	}
	if tr.Account != nil {
		t.AccountID, t.Email = tr.Account.UUID, tr.Account.Email
	}
	if tr.IDToken != "" {
		if c, err := ParseIDTokenClaims(tr.IDToken); err == nil {
			if t.AccountID == "" {
				t.AccountID = c.ChatGPTAccountID
			}
			if t.Email == "" {
				t.Email = c.Email
			}
			t.PlanType = c.ChatGPTPlanType
		}
	}
	return t, nil
}

// exchange trades an authorization code for tokens.
func (p Provider) exchange(ctx context.Context, client *http.Client, code, redirectURI, verifier, state string, setup bool) (*Token, error) {
	// Claude's JSON key order, also fine for the forms: grant_type, code,
	// redirect_uri, client_id, [client_secret], code_verifier, [state].
	fields := []field{
		{"grant_type", "authorization_code"},
		{"code", code},
		{"redirect_uri", redirectURI},
		{"client_id", p.ClientID},
	}
	if p.ClientSecret != "" {
		fields = append(fields, field{"client_secret", p.ClientSecret})
	}
	if verifier != "" {
		fields = append(fields, field{"code_verifier", verifier})
	}
	if p.ExchangeState && state != "" {
		fields = append(fields, field{"state", state})
	}
	if setup && p.SetupTokenLifetime > 0 {
		fields = append(fields, field{"expires_in", int64(p.SetupTokenLifetime / time.Second)})
	}
	data, err := p.call(ctx, client, "exchange", p.TokenURL, p.ExchangeFormat, fields, code, verifier)
	if err != nil {
		return nil, err
	}
	return p.parseToken("exchange", data, time.Now())
}

// Refresh exchanges a refresh token for a new access token. client carries the
// account's proxy (nil: http.DefaultClient). When the answer has no
// refresh_token the old one is kept in the returned Token; when it has one,
// the old one is spent: persist the new one before using the access token.
//
// Claude sends JSON {grant_type, refresh_token, client_id, scope}; Codex JSON
// {client_id, grant_type, refresh_token}; Google a form with client_secret.
// A dead grant gives an error matching ErrInvalidGrant; any provider answer
// gives a *TokenError.
func (p Provider) Refresh(ctx context.Context, client *http.Client, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, p.errorf("refresh: no refresh token: %w", ErrInvalidGrant)
	}
	t, err := p.refresh(ctx, client, refreshToken, p.RefreshScopes)
	var te *TokenError
	if errors.As(err, &te) && te.Code == "invalid_scope" && len(p.RefreshFallbackScopes) > 0 {
		t, err = p.refresh(ctx, client, refreshToken, p.RefreshFallbackScopes)
	}
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	return t, nil
}

func (p Provider) refresh(ctx context.Context, client *http.Client, refreshToken string, scopes []string) (*Token, error) {
	var fields []field
	if p.RefreshFormat == FormatJSON && len(scopes) == 0 {
		// Codex's order.
		fields = []field{
			{"client_id", p.ClientID},
			{"grant_type", "refresh_token"},
			{"refresh_token", refreshToken},
		}
	} else {
		fields = []field{
			{"grant_type", "refresh_token"},
			{"refresh_token", refreshToken},
			{"client_id", p.ClientID},
		}
		if p.ClientSecret != "" {
			fields = append(fields, field{"client_secret", p.ClientSecret})
		}
		if len(scopes) > 0 {
			fields = append(fields, field{"scope", strings.Join(scopes, " ")})
		}
	}
	data, err := p.call(ctx, client, "refresh", p.refreshURL(), p.RefreshFormat, fields, refreshToken)
	if err != nil {
		return nil, err
	}
	return p.parseToken("refresh", data, time.Now())
}
