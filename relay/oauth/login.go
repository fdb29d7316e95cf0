package oauth

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pkg/browser"
	"golang.org/x/oauth2"
)

// LoginOptions are the caller's side of a login. Every field is optional.
type LoginOptions struct {
	// HTTPClient makes the token calls (it carries the account's proxy).
	// nil means http.DefaultClient.
	HTTPClient *http.Client
	// OpenBrowser opens the authorize URL. It should start a browser and
	// return, not wait for the page. nil means github.com/pkg/browser.OpenURL.
	OpenBrowser func(address string) error
	// NoBrowser skips OpenBrowser; the URL is still given to Progress.
	NoBrowser bool
	// Paste, when set, is read line by line in parallel with the callback
	// server: a pasted callback URL, Claude's "code#state" or (Google) a bare
	// code completes the login, whichever comes first. Reading cannot be
	// interrupted, so the reading goroutine stays blocked in Read after Login
	// returns until the reader yields a line or EOF; what it reads then is
	// dropped.
	Paste io.Reader
	// Progress receives human-readable steps, URLs included (but see Link);
	// never a secret.
	Progress func(msg string)
	// Link, when set, receives the addresses to open (and the device
	// login's code) as soon as they are known; Progress then gets the
	// browser login's steps without the addresses, for a caller that shows
	// links itself.
	Link func(Link)
	// SetupToken (Claude only) asks for the inference-only, one-year token of
	// `claude setup-token`.
	SetupToken bool
}

// Link is what a login asks the user to open, given to LoginOptions.Link
// once it is known.
type Link struct {
	// URL is the login page, which ends on this machine's callback, or the
	// device login's page.
	URL string
	// Code is what to enter on that page: the device login's user code.
	Code string
	// Paste says what to paste back after logging in at URL, when the
	// login reads a paste ("" when it does not).
	Paste string
	// Elsewhere, when set, is the login page for a browser on any machine:
	// it ends on the provider's page showing a code, which ElsewherePaste
	// describes.
	Elsewhere, ElsewherePaste string
}

func (o LoginOptions) link(l Link) {
	if o.Link != nil {
		o.Link(l)
	}
}

func (o LoginOptions) progress(msg string) {
	if o.Progress != nil {
		o.Progress(msg)
	}
}

// Login runs the browser login: PKCE S256 and a random state, a loopback
// callback server, the authorize URL opened in the browser (and given to
// Progress), the state checked on the callback, the code exchanged, the
// browser answered with a success page or the provider's success URL. With
// opts.Paste the user may paste the answer instead (see LoginOptions.Paste).
//
// A callback or paste with a wrong state fails the login with
// ErrStateMismatch and nothing is exchanged. A cancelled ctx gives
// ErrCancelled (wrapping the context's error).
func (p Provider) Login(ctx context.Context, opts LoginOptions) (*Token, error) {
	if p.AuthorizeURL == "" || p.TokenURL == "" || p.ClientID == "" {
		return nil, p.errorf("login: the provider has no authorize URL, token URL or client id")
	}
	scopes := p.Scopes
	if opts.SetupToken {
		if len(p.SetupTokenScopes) == 0 {
			return nil, p.errorf("login: setup tokens exist only for Claude")
		}
		scopes = p.SetupTokenScopes
	}
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	state, err := randomString(32)
	if err != nil {
		return nil, p.errorf("login: %w", err)
	}

	ln, err := p.listen()
	if err != nil {
		return nil, err
	}
	lb := &loopback{
		provider:   p.Name,
		state:      state,
		path:       p.CallbackPath,
		cancelPath: p.CancelPath,
		results:    make(chan callbackResult, 1),
		done:       make(chan struct{}),
	}
	lb.srv = &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	lb.served = make(chan struct{})
	go func() {
		defer close(lb.served)
		_ = lb.srv.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()

	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	loopbackRedirect := "http://" + net.JoinHostPort(p.redirectHost(), port) + p.CallbackPath
	fl := &flow{p: p, opts: opts, state: state, verifier: verifier, loopbackRedirect: loopbackRedirect}
	fl.authURL = p.authorizeURL(loopbackRedirect, scopes, challenge, state)
	if opts.Paste != nil && p.ManualRedirectURL != "" {
		fl.manualURL = p.authorizeURL(p.ManualRedirectURL, scopes, challenge, state)
	}

	tok, fromCallback, err := fl.run(ctx, lb)
	success := ""
	if fromCallback {
		success = p.SuccessURL
	}
	lb.finish(err, success)
	if err != nil {
		return nil, err
	}
	opts.progress("Logged in to " + p.label() + ".")
	return tok, nil
}

// flow is one login's state between the callback server and the exchange.
type flow struct {
	p                  Provider
	opts               LoginOptions
	state, verifier    string
	loopbackRedirect   string
	authURL, manualURL string
}

// run shows the URLs, waits for a code from the callback or the paste, and
// exchanges it. fromCallback says the browser is waiting on the callback.
func (fl *flow) run(ctx context.Context, lb *loopback) (tok *Token, fromCallback bool, err error) {
	p, opts := fl.p, fl.opts
	if opts.Link != nil {
		fl.links()
	} else {
		opts.progress("Open this URL to log in to " + p.label() + ":\n" + fl.authURL)
	}
	if !opts.NoBrowser {
		open := opts.OpenBrowser
		if open == nil {
			open = browser.OpenURL
		}
		if err := open(fl.authURL); err != nil {
			if opts.Link != nil {
				opts.progress("Could not open a browser: " + err.Error() + "; copy the link into a browser on this or another computer.")
			} else {
				opts.progress("Could not open a browser (" + err.Error() + "); open the URL above yourself.")
			}
		}
	}
	var lines <-chan string
	if opts.Paste != nil {
		switch {
		case opts.Link != nil: // the links say what to paste
		case fl.manualURL != "" && p.PasteBareCode:
			opts.progress("Browser on another machine? Open this URL there, then paste the code it shows here:\n" + fl.manualURL)
		case fl.manualURL != "":
			opts.progress("Browser on another machine? Open this URL there, then paste the code it shows here (all of it, including the # in the middle):\n" + fl.manualURL)
		default:
			opts.progress("Browser on another machine? Paste here the full address the browser ends on (http://localhost:…).")
		}
		stop := make(chan struct{})
		defer close(stop)
		lines = readLines(opts.Paste, stop)
	}
	opts.progress("Waiting for the browser…")

	var code, redirectURI string
	for code == "" {
		select {
		case <-ctx.Done():
			return nil, false, p.errorf("login: %w: %w", ErrCancelled, context.Cause(ctx))
		case r := <-lb.results:
			if r.err != nil {
				return nil, false, r.err
			}
			code, redirectURI, fromCallback = r.code, fl.loopbackRedirect, true
		case line, ok := <-lines:
			if !ok {
				lines = nil // paste closed; the callback may still come
				continue
			}
			pc, err := fl.parsePaste(line)
			var hint pasteHint
			if errors.As(err, &hint) {
				opts.progress(string(hint))
				continue
			}
			if err != nil {
				return nil, false, err
			}
			code, redirectURI = pc.code, pc.redirectURI
		}
	}
	opts.progress("Exchanging the code…")
	tok, err = p.exchange(ctx, opts.HTTPClient, code, redirectURI, fl.verifier, fl.state, opts.SetupToken)
	if err != nil {
		return nil, fromCallback, err
	}
	return tok, fromCallback, nil
}

// links hands the login's addresses to opts.Link, each saying what to paste
// back.
func (fl *flow) links() {
	l := Link{URL: fl.authURL}
	if fl.opts.Paste != nil {
		l.Paste = "the full address the browser ends on (http://localhost:…)"
	}
	if fl.manualURL != "" {
		l.Elsewhere, l.ElsewherePaste = fl.manualURL, "the code the page shows (all of it, including the # in the middle)"
		if fl.p.PasteBareCode {
			l.ElsewherePaste = "the code the page shows"
		}
	}
	fl.opts.link(l)
}

// pasteHint is a pasted line we could not use; the user may try again.
type pasteHint string

func (h pasteHint) Error() string { return string(h) }

type pastedCode struct{ code, redirectURI string }

// parsePaste reads one pasted line: a callback URL, "code#state", or a bare
// code where the provider allows it.
func (fl *flow) parsePaste(line string) (pastedCode, error) {
	p := fl.p
	if strings.HasPrefix(line, "http://") || strings.HasPrefix(line, "https://") {
		u, err := url.Parse(line)
		if err != nil {
			return pastedCode{}, pasteHint("That address could not be read; paste it again.")
		}
		q := u.Query()
		if e := q.Get("error"); e != "" {
			return pastedCode{}, &AuthorizeError{Provider: p.Name, Code: cleanText(e), Description: cleanText(q.Get("error_description"))}
		}
		code := q.Get("code")
		if code == "" {
			return pastedCode{}, pasteHint("That address has no code in it; paste the address the browser ends on after you log in.")
		}
		if !sameState(q.Get("state"), fl.state) {
			return pastedCode{}, p.errorf("login: %w", ErrStateMismatch)
		}
		redirect := fl.loopbackRedirect
		if p.ManualRedirectURL != "" && stripQuery(u) == stripQuery(mustParse(p.ManualRedirectURL)) {
			redirect = p.ManualRedirectURL
		}
		return pastedCode{code, redirect}, nil
	}
	redirect := p.ManualRedirectURL
	if redirect == "" {
		redirect = fl.loopbackRedirect
	}
	if code, state, ok := strings.Cut(line, "#"); ok {
		if code == "" || state == "" {
			return pastedCode{}, pasteHint("Paste all of the code, including the # in the middle.")
		}
		if !sameState(state, fl.state) {
			return pastedCode{}, p.errorf("login: %w", ErrStateMismatch)
		}
		return pastedCode{code, redirect}, nil
	}
	if p.PasteBareCode && !strings.ContainsAny(line, " \t") {
		return pastedCode{line, redirect}, nil
	}
	if p.ManualRedirectURL != "" {
		return pastedCode{}, pasteHint("Paste all of the code, including the # in the middle.")
	}
	return pastedCode{}, pasteHint("Paste the full address the browser ends on (http://localhost:…).")
}

func sameState(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func stripQuery(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment = "", "", ""
	return v.String()
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return nil
	}
	return u
}

// readLines delivers non-empty trimmed lines from r until EOF or stop.
func readLines(r io.Reader, stop <-chan struct{}) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			select {
			case out <- line:
			case <-stop:
				return
			}
		}
	}()
	return out
}

// authorizeURL builds the authorize URL; the standard parameters first, then
// the provider's own.
func (p Provider) authorizeURL(redirectURI string, scopes []string, challenge, state string) string {
	params := []Param{
		{"client_id", p.ClientID},
		{"response_type", "code"},
		{"redirect_uri", redirectURI},
		{"scope", strings.Join(scopes, " ")},
		{"code_challenge", challenge},
		{"code_challenge_method", "S256"},
		{"state", state},
	}
	params = append(params, p.AuthorizeParams...)
	var b strings.Builder
	b.WriteString(p.AuthorizeURL)
	sep := "?"
	if strings.Contains(p.AuthorizeURL, "?") {
		sep = "&"
	}
	for _, kv := range params {
		b.WriteString(sep)
		sep = "&"
		b.WriteString(url.QueryEscape(kv.Key))
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(kv.Value), "+", "%20"))
	}
	return b.String()
}

func (p Provider) redirectHost() string {
	if p.RedirectHost != "" {
		return p.RedirectHost
	}
	return p.callbackHost()
}

func (p Provider) callbackHost() string {
	if p.CallbackHost != "" {
		return p.CallbackHost
	}
	return "127.0.0.1"
}

// listen binds the first free port of CallbackPorts.
func (p Provider) listen() (net.Listener, error) {
	ports := p.CallbackPorts
	if len(ports) == 0 {
		ports = []int{0}
	}
	var errs []error
	for _, port := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(p.callbackHost(), strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		errs = append(errs, err)
	}
	return nil, p.errorf("login: no callback port is free (another login may be running; close it and retry): %w", errors.Join(errs...))
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// loopback is the callback server of one login.
type loopback struct {
	provider         string
	state            string
	path, cancelPath string
	srv              *http.Server
	served           chan struct{} // closed when Serve has returned

	claimed atomic.Bool
	results chan callbackResult // cap 1, written once

	done       chan struct{} // closed by finish; outcome is set before
	outcome    error
	successURL string
}

type callbackResult struct {
	code string
	err  error
}

// deliver hands the first result to Login; later ones are refused.
func (lb *loopback) deliver(r callbackResult) bool {
	if !lb.claimed.CompareAndSwap(false, true) {
		return false
	}
	lb.results <- r
	return true
}

func (lb *loopback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == lb.path:
		lb.callback(w, r)
	case lb.cancelPath != "" && r.URL.Path == lb.cancelPath:
		lb.deliver(callbackResult{err: fmt.Errorf("%s: login: %w by another login", lb.provider, ErrCancelled)})
		page(w, http.StatusOK, "Login cancelled", "This login was cancelled.")
	default:
		http.NotFound(w, r)
	}
}

func (lb *loopback) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if !sameState(q.Get("state"), lb.state) {
			lb.deliver(callbackResult{err: fmt.Errorf("%s: login: %w", lb.provider, ErrStateMismatch)})
			page(w, http.StatusBadRequest, "Login refused", "This answer does not belong to this login.")
			return
		}
		ae := &AuthorizeError{Provider: lb.provider, Code: cleanText(e), Description: cleanText(q.Get("error_description"))}
		lb.deliver(callbackResult{err: ae})
		page(w, http.StatusBadRequest, "Login failed", ae.Error())
		return
	}
	code := q.Get("code")
	if code == "" {
		page(w, http.StatusBadRequest, "Login failed", "The answer has no code in it.")
		return
	}
	if !sameState(q.Get("state"), lb.state) {
		lb.deliver(callbackResult{err: fmt.Errorf("%s: login: %w", lb.provider, ErrStateMismatch)})
		page(w, http.StatusBadRequest, "Login refused", "This answer does not belong to this login (state mismatch). Start the login again.")
		return
	}
	if !lb.deliver(callbackResult{code: code}) {
		page(w, http.StatusConflict, "Login already handled", "This login has already finished; you can close this tab.")
		return
	}
	select {
	case <-lb.done:
	case <-r.Context().Done():
		return
	}
	switch {
	case lb.outcome != nil:
		page(w, http.StatusBadGateway, "Login failed", lb.outcome.Error())
	case lb.successURL != "":
		http.Redirect(w, r, lb.successURL, http.StatusFound)
	default:
		page(w, http.StatusOK, "Login complete", "You are logged in. You can close this tab.")
	}
}

// finish answers a waiting browser with the outcome and stops the server.
func (lb *loopback) finish(outcome error, successURL string) {
	lb.outcome, lb.successURL = outcome, successURL
	close(lb.done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := lb.srv.Shutdown(ctx); err != nil {
		_ = lb.srv.Close()
	}
	<-lb.served
}

func page(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Keypool: %s</title></head>"+
		"<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>%s</h1><p>%s</p></body></html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}
