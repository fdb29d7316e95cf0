package config

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// Account, Proxy and File print and log themselves without secrets: String,
// fmt's verbs (including %#v and %+v) and slog all go through the methods
// below. A secret shows up only as "set" or is left out.

// String describes the account without its credentials.
func (a Account) String() string {
	var b strings.Builder
	b.WriteString("Account{type=")
	b.WriteString(a.Type)
	b.WriteString(" id=")
	b.WriteString(strconv.Quote(a.ID))
	b.WriteString(" name=")
	b.WriteString(strconv.Quote(a.Name))
	b.WriteString(" priority=")
	b.WriteString(strconv.Itoa(a.Priority))
	b.WriteString(" enabled=")
	b.WriteString(strconv.FormatBool(a.Enabled))
	for _, c := range a.credentials() {
		b.WriteString(" ")
		b.WriteString(c)
		b.WriteString("=set")
	}
	if a.APIURL != "" {
		b.WriteString(" api_url=")
		b.WriteString(a.APIURL)
	}
	if a.AuthHeader != "" {
		b.WriteString(" auth_header=")
		b.WriteString(a.AuthHeader)
	}
	if a.Proxy != nil {
		b.WriteString(" proxy=")
		b.WriteString(a.Proxy.String())
	}
	b.WriteString("}")
	return b.String()
}

// credentials names the secret fields that are set.
func (a Account) credentials() []string {
	var out []string
	if a.APIKey != "" {
		out = append(out, "api_key")
	}
	if a.RefreshToken != "" {
		out = append(out, "refresh_token")
	}
	if a.AccessToken != "" {
		out = append(out, "access_token")
	}
	return out
}

// GoString is String, so %#v does not print credentials either.
func (a Account) GoString() string { return a.String() }

// Format writes String for every verb, so no verb prints a raw field.
func (a Account) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, a.String()) }

// LogValue logs the account without its credentials.
func (a Account) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("type", a.Type),
		slog.String("id", a.ID),
		slog.String("name", a.Name),
		slog.Int("priority", a.Priority),
		slog.Bool("enabled", a.Enabled),
	}
	if c := a.credentials(); len(c) > 0 {
		attrs = append(attrs, slog.String("credentials", strings.Join(c, ",")))
	}
	if a.APIURL != "" {
		attrs = append(attrs, slog.String("api_url", a.APIURL))
	}
	if a.AuthHeader != "" {
		attrs = append(attrs, slog.String("auth_header", a.AuthHeader))
	}
	if a.Proxy != nil {
		attrs = append(attrs, slog.Any("proxy", a.Proxy))
	}
	return slog.GroupValue(attrs...)
}

// String describes the proxy as type://host:port, without the password (and
// without the username, noting only that credentials are set).
func (p Proxy) String() string {
	s := p.Type + "://" + net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	if p.Username != "" || p.Password != "" {
		s += " (with credentials)"
	}
	return s
}

// GoString is String.
func (p Proxy) GoString() string { return p.String() }

// Format writes String for every verb.
func (p Proxy) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, p.String()) }

// LogValue logs the proxy without its password.
func (p Proxy) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", p.Type),
		slog.String("host", p.Host),
		slog.Int("port", p.Port),
		slog.Bool("credentials", p.Username != "" || p.Password != ""),
	)
}

// String summarises the file without client keys or account credentials.
func (f File) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "File{path=%q api_keys=%d server=%+v session=%+v accounts=[",
		f.Path, len(f.APIKeys), f.Server, f.Session)
	for i, a := range f.Accounts {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(a.String())
	}
	b.WriteString("]}")
	return b.String()
}

// GoString is String.
func (f File) GoString() string { return f.String() }

// Format writes String for every verb.
func (f File) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, f.String()) }

// LogValue logs the file without client keys or account credentials.
func (f File) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("path", f.Path),
		slog.Int("api_keys", len(f.APIKeys)),
		slog.String("addr", f.Addr()),
		slog.String("log_level", f.Server.LogLevel),
		slog.Int("accounts", len(f.Accounts)),
	)
}
