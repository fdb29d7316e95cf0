package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"keypool/relay/pool"
	"keypool/relay/provider"
)

// maxSeconds bounds every *_seconds value (ten years) so that converting it
// to a time.Duration cannot overflow.
const maxSeconds = 10 * 365 * 24 * 3600

// accountTypes are the types the file accepts: every kind of
// relay/provider's table, read when a file is checked (a kind may have been
// registered after this package's start).
func accountTypes() []string { return kindsWhere(func(*provider.Provider) bool { return true }) }

var (
	logLevels   = []string{"trace", "debug", "info", "warn", "error"}
	authHeaders = []string{AuthHeaderXAPIKey, AuthHeaderBearer}
	proxyTypes  = []string{ProxySOCKS5, ProxyHTTP}
)

// needsAPIKey: a known type that does not log in needs api_key; the OAuth
// types need refresh_token or access_token.
func needsAPIKey(t string) bool {
	p := provider.For(pool.Kind(t))
	return p != nil && !p.IsOAuth()
}

func isOAuth(t string) bool { return provider.IsOAuth(pool.Kind(t)) }

type validator struct {
	name string
	pos  *positions
	errs []*Error
}

// fail records a problem with key, located at key's line (or its closest
// present parent's).
func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{
		File: v.name,
		Line: v.pos.lineOf(key),
		Key:  key,
		Msg:  fmt.Sprintf(format, args...),
	})
}

func oneOf(list []string) string { return strings.Join(list, ", ") }

// kindsWhere lists the account types whose provider has a property.
func kindsWhere(has func(*provider.Provider) bool) []string {
	var out []string
	for _, p := range provider.All() {
		if has(p) {
			out = append(out, string(p.Kind))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// validate checks raw and builds the File. name is the file name used in
// messages, path the file's path for resolving database_path.
func validate(name, path string, raw *rawFile, pos *positions) (*File, []*Error) {
	v := &validator{name: name, pos: pos}
	f := &File{Path: path}

	// api_keys
	for i, k := range raw.APIKeys {
		if k == "" {
			v.fail(fmt.Sprintf("api_keys[%d]", i), "must not be empty")
		}
	}
	f.APIKeys = raw.APIKeys

	// [models]: alias = real model.
	for alias, target := range raw.Models {
		if alias == "" || strings.TrimSpace(target) == "" {
			v.fail("models."+alias, "needs a model name on both sides (alias = \"real-model\")")
		}
	}
	f.Models = raw.Models
	// [allowed_models]: client key = [patterns]. The key is a secret: say
	// which entry, never echo it.
	known := map[string]bool{}
	for _, k := range raw.APIKeys {
		known[k] = true
	}
	for key, pats := range raw.AllowedModels {
		if !known[key] {
			v.fail("allowed_models", "an entry names a key that is not in api_keys")
		}
		if len(pats) == 0 {
			v.fail("allowed_models", "an entry has no model patterns (use [\"*\"] for all)")
		}
	}
	f.AllowedModels = raw.AllowedModels
	for key, usd := range raw.ClientBudgets {
		if !known[key] {
			v.fail("client_budgets", "an entry names a key that is not in api_keys")
		}
		if usd <= 0 {
			v.fail("client_budgets", "a daily cap must be more than 0 USD")
		}
	}
	f.ClientBudgets = raw.ClientBudgets

	f.Scheduler = Scheduler{Strategy: strings.ToLower(strings.TrimSpace(raw.Scheduler.Strategy)), FillThreshold: raw.Scheduler.FillThreshold}
	switch f.Scheduler.Strategy {
	case "":
		f.Scheduler.Strategy = "priority"
	case "priority", "fill-first", "spread":
	default:
		v.fail("scheduler.strategy", "%q is not one of priority, fill-first, spread", raw.Scheduler.Strategy)
	}
	if f.Scheduler.FillThreshold == 0 {
		f.Scheduler.FillThreshold = 0.95
	} else if f.Scheduler.FillThreshold < 0 || f.Scheduler.FillThreshold > 1 {
		v.fail("scheduler.fill_threshold", "must be between 0 and 1 (0.95 = 95%%)")
	}
	f.Spend.PaidDailyUSD = raw.Spend.PaidDailyUSD
	if raw.Spend.PaidDailyUSD < 0 {
		v.fail("spend.paid_daily_usd", "must not be negative: a daily cap in USD on paid answers, 0 for none, got %g", raw.Spend.PaidDailyUSD)
	}
	f.Updates = Updates{Check: raw.Updates.Check, URL: raw.Updates.URL}
	if u := raw.Updates.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || pu.Host == "" || pu.Scheme != "https" && !(pu.Scheme == "http" && isLoopback(pu.Hostname())) {
			v.fail("updates.url", "%q: use an https:// address (http:// only on this machine)", u)
		}
	}
	f.Notify.RunwayMinutes = DefaultRunwayMinutes
	if m := raw.Notify.RunwayMinutes; m != nil {
		f.Notify.RunwayMinutes = *m
		if *m < 0 || *m > MaxAvoidRunoutMinutes {
			v.fail("notify.runway_minutes", "must be between 0 (off) and %d (a week), got %d", MaxAvoidRunoutMinutes, *m)
		}
	}
	f.Scheduler.AvoidRunoutMinutes = raw.Scheduler.AvoidRunoutMinutes
	if m := raw.Scheduler.AvoidRunoutMinutes; m < 0 || m > MaxAvoidRunoutMinutes {
		v.fail("scheduler.avoid_runout_minutes", "must be between 0 (off) and %d (a week), got %d", MaxAvoidRunoutMinutes, m)
	}

	f.Server = v.server(raw.Server, path, len(raw.APIKeys) > 0)
	f.MetricsToken = raw.Server.MetricsToken
	if f.Server.MonitorsNeedKey && len(raw.APIKeys) == 0 && f.MetricsToken == "" {
		v.fail("server.monitors_need_key", "nothing could read /health and /metrics then: set api_keys or metrics_token too")
	}
	f.Session = v.session(raw.Session)

	ids := map[string]int{} // id → index of first account using it
	for i := range raw.Accounts {
		a := v.account(i, &raw.Accounts[i])
		if a.ID != "" {
			if j, dup := ids[a.ID]; dup {
				key := fmt.Sprintf("accounts[%d].id", i)
				first := fmt.Sprintf("accounts[%d]", j)
				if l := pos.lineOf(first); l > 0 {
					first += " on line " + strconv.Itoa(l)
				}
				v.fail(key, "duplicate id %q (already used by %s)", a.ID, first)
			} else {
				ids[a.ID] = i
			}
		}
		f.Accounts = append(f.Accounts, a)
	}
	return f, v.errs
}

// MaxAvoidRunoutMinutes is the longest avoid_runout_minutes: a week, the
// longest plan window.
const MaxAvoidRunoutMinutes = 7 * 24 * 60

func (v *validator) server(r rawServer, path string, haveKeys bool) Server {
	s := Server{
		Host:               r.Host,
		Port:               r.Port,
		LogLevel:           strings.ToLower(r.LogLevel),
		IdleTimeoutSeconds: r.IdleTimeoutSeconds,
		MaxBodyBytes:       r.MaxBodyBytes,
		MonitorsNeedKey:    r.MonitorsNeedKey,
	}

	// A bracketed IPv6 literal is accepted; JoinHostPort adds the brackets.
	if strings.HasPrefix(s.Host, "[") && strings.HasSuffix(s.Host, "]") {
		s.Host = s.Host[1 : len(s.Host)-1]
	}
	switch {
	case s.Host == "":
		v.fail("server.host", "must not be empty (use 127.0.0.1 to listen on this machine only)")
	case strings.ContainsAny(s.Host, " \t/\\@?#") || (strings.Contains(s.Host, ":") && net.ParseIP(s.Host) == nil):
		v.fail("server.host", "%q is not a host name or IP address", s.Host)
	case !haveKeys && !isLoopback(s.Host):
		v.fail("server.host", "host %s is reachable from other machines; set api_keys so only your clients can use the relay", s.Host)
	}

	if s.Port < 1 || s.Port > 65535 {
		v.fail("server.port", "must be between 1 and 65535, got %d", s.Port)
	}

	s.DatabasePath = besideConfig(r.DatabasePath, path)
	s.TLSCert, s.TLSKey = besideConfig(r.TLSCert, path), besideConfig(r.TLSKey, path)
	if (s.TLSCert == "") != (s.TLSKey == "") {
		v.fail("server.tls_cert", "tls_cert and tls_key go together: set both (PEM files) to serve HTTPS, or neither")
	}
	s.PublicName = strings.ToLower(strings.TrimSpace(r.PublicName))
	switch {
	case s.PublicName == "":
	case strings.ContainsAny(s.PublicName, " \t/\\@?#:[]"):
		v.fail("server.public_name", "%q is not a host name: give the name alone, without scheme or port (keypool.example.com)", r.PublicName)
	case !haveKeys:
		v.fail("server.public_name", "clients beyond this machine reach the relay by %s; set api_keys so only your clients can use it", s.PublicName)
	}

	if !contains(logLevels, s.LogLevel) {
		v.fail("server.log_level", "%q is not one of %s", r.LogLevel, oneOf(logLevels))
	}
	if s.IdleTimeoutSeconds < 1 || s.IdleTimeoutSeconds > maxSeconds {
		v.fail("server.idle_timeout_seconds", "must be between 1 and %d, got %d", maxSeconds, s.IdleTimeoutSeconds)
	}
	if s.MaxBodyBytes < 1 {
		v.fail("server.max_body_bytes", "must be positive, got %d", s.MaxBodyBytes)
	}
	return s
}

// besideConfig resolves a path from the config file (database_path,
// tls_cert, tls_key) against the file's directory; "" stays "".
func besideConfig(p, configPath string) string {
	if p == "" {
		return ""
	}
	// A path rooted without a drive (/etc/keypool/key.pem on Windows) is
	// not relative to the file either: it is on the current drive.
	rooted := filepath.IsAbs(p) || filepath.VolumeName(p) != "" || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`)
	if !rooted && configPath != "" {
		p = filepath.Join(filepath.Dir(configPath), p)
	}
	return filepath.Clean(p)
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) session(r rawSession) Session {
	s := Session(r)
	for _, d := range []struct {
		key string
		val int
	}{
		{"session.sticky_ttl_seconds", s.StickyTTLSeconds},
		{"session.renewal_threshold_seconds", s.RenewalThresholdSeconds},
		{"session.unavailable_cooldown_seconds", s.UnavailableCooldownSeconds},
		{"session.rate_limit_cooldown_seconds", s.RateLimitCooldownSeconds},
	} {
		if d.val < 0 || d.val > maxSeconds {
			v.fail(d.key, "must be between 0 and %d, got %d", maxSeconds, d.val)
		}
	}
	if s.RenewalThresholdSeconds > s.StickyTTLSeconds && s.StickyTTLSeconds >= 0 {
		v.fail("session.renewal_threshold_seconds", "%d is larger than sticky_ttl_seconds (%d)",
			s.RenewalThresholdSeconds, s.StickyTTLSeconds)
	}
	return s
}

func (v *validator) account(i int, r *rawAccount) Account {
	key := func(field string) string { return fmt.Sprintf("accounts[%d].%s", i, field) }
	if r.DailyBudget < 0 {
		v.fail(key("daily_budget_usd"), "must not be negative (0: no cap)")
	}
	if r.MonthBudget < 0 {
		v.fail(key("monthly_budget_usd"), "must not be negative (0: no cap)")
	}
	a := Account{
		DailyBudgetUSD:   r.DailyBudget,
		MonthlyBudgetUSD: r.MonthBudget,
		Type:             r.Type,
		Priority:         r.Priority,
		Enabled:          r.Enabled == nil || *r.Enabled,
		Name:             r.Name,
		AuthHeader:       strings.ToLower(r.AuthHeader),
		Project:          r.Project,
		ConvertedTraffic: r.Converted,
		AllowOverage:     r.AllowOverage,
	}
	for j, m := range r.Models {
		if m = strings.TrimSpace(m); m == "" {
			v.fail(key(fmt.Sprintf("models[%d]", j)), "must not be empty")
			continue
		}
		a.Models = append(a.Models, m)
	}
	if kind := provider.For(pool.Kind(r.Type)); kind != nil {
		if r.Converted && !kind.ChatOptIn {
			v.fail(key("converted_traffic"), "only a subscription (%s) opts into converted chat; %s accounts answer what they serve", oneOf(kindsWhere(func(p *provider.Provider) bool { return p.ChatOptIn })), r.Type)
		}
		if r.AllowOverage && kind.Overage == nil {
			v.fail(key("allow_overage"), "only a subscription with paid extra usage (%s) can serve on it; %s accounts are billed as they are", oneOf(kindsWhere(func(p *provider.Provider) bool { return p.Overage != nil })), r.Type)
		}
		if r.Project != "" && kind.API != provider.APICodeAssist {
			v.fail(key("project"), "only a Google login (%s) has a Code Assist project", oneOf(kindsWhere(func(p *provider.Provider) bool { return p.API == provider.APICodeAssist })))
		}
	}
	if r.ID != nil {
		a.ID = *r.ID
	}
	// who names the account in messages about keys it lacks.
	who := fmt.Sprintf("account %q", a.ID)
	if a.ID == "" {
		who = "this account"
	}

	switch {
	case r.ID == nil:
		v.fail(key("id"), "missing; every account needs a unique id")
	case a.ID == "":
		v.fail(key("id"), "must not be empty")
	case !pool.ValidID(a.ID):
		v.fail(key("id"), "%q %s", a.ID, pool.IDRule)
	}
	if a.Name == "" {
		a.Name = a.ID
	}

	switch {
	case !v.pos.has(key("type")) && r.Type == "":
		v.fail(key("type"), "%s has no type; set one of %s", who, oneOf(accountTypes()))
	case !contains(accountTypes(), r.Type):
		v.fail(key("type"), "%q is not one of %s", r.Type, oneOf(accountTypes()))
	}

	// Credentials. Values are never echoed.
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	a.APIKey, a.RefreshToken, a.AccessToken = str(r.APIKey), str(r.RefreshToken), str(r.AccessToken)
	switch {
	case needsAPIKey(a.Type):
		if r.APIKey == nil {
			v.fail(key("api_key"), "%s has no api_key; type %s requires one", who, a.Type)
		} else if a.APIKey == "" {
			v.fail(key("api_key"), "must not be empty")
		}
	case isOAuth(a.Type):
		if a.RefreshToken == "" && a.AccessToken == "" {
			switch {
			case r.RefreshToken != nil:
				v.fail(key("refresh_token"), "must not be empty")
			case r.AccessToken != nil:
				v.fail(key("access_token"), "must not be empty")
			default:
				v.fail(key("refresh_token"), "%s has no refresh_token or access_token; type %s requires one", who, a.Type)
			}
		}
	}

	if r.APIURL != "" {
		u, msg := checkURL(r.APIURL)
		if msg != "" {
			v.fail(key("api_url"), "%s", msg)
		}
		a.APIURL = u
	} else if p := provider.For(pool.Kind(a.Type)); p != nil && p.NeedsAPIURL {
		v.fail(key("api_url"), "%s has no api_url; type %s requires one", who, a.Type)
	}

	if a.AuthHeader == "" {
		a.AuthHeader = AuthHeaderXAPIKey
	} else if !contains(authHeaders, a.AuthHeader) {
		v.fail(key("auth_header"), "%q is not one of %s", r.AuthHeader, oneOf(authHeaders))
	}

	if r.Proxy != nil {
		a.Proxy = v.proxy(key("proxy"), r.Proxy)
	}
	return a
}

// checkURL validates an api_url and returns it without trailing slashes, or
// a message. The URL itself is not echoed: it could carry a credential.
func checkURL(s string) (string, string) {
	const want = "must be an absolute http or https URL such as https://api.anthropic.com"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", want
	}
	if u.User != nil {
		return "", "must not contain a user name or password; put the credential in api_key"
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", "must not have a query (?...) or fragment (#...)"
	}
	return strings.TrimRight(s, "/"), ""
}

func (v *validator) proxy(key string, r *rawProxy) *Proxy {
	p := &Proxy{
		Type:     strings.ToLower(r.Type),
		Host:     r.Host,
		Username: r.Username,
		Password: r.Password,
	}
	switch {
	case r.Type == "":
		v.fail(key+".type", "missing; set one of %s", oneOf(proxyTypes))
	case !contains(proxyTypes, p.Type):
		v.fail(key+".type", "%q is not one of %s", r.Type, oneOf(proxyTypes))
	}
	if p.Host == "" {
		v.fail(key+".host", "missing; the proxy needs a host")
	}
	if r.Port == nil {
		v.fail(key+".port", "missing; the proxy needs a port")
	} else {
		p.Port = *r.Port
		if p.Port < 1 || p.Port > 65535 {
			v.fail(key+".port", "must be between 1 and 65535, got %d", p.Port)
		}
	}
	if p.Password != "" && p.Username == "" {
		v.fail(key+".password", "is set but username is not")
	}
	return p
}
