// Package update tells when a newer Keypool is out and installs it, in a
// way that cannot be turned against the user: a release manifest is
// believed only with an ed25519 signature made by the release key whose
// public half is compiled in, an archive only with the SHA-256 the signed
// manifest gives, and the binary is replaced atomically with the previous
// one kept for a rollback. Nothing here runs unless asked: the app checks
// at most once a day, and only when the user turned the check on.
package update

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"keypool/app/version"
)

// DefaultFeed is where the project publishes its signed release manifest.
const DefaultFeed = "https://github.com/keypool/keypool/releases/latest/download/latest.json"

// Manifest is one release: its version, its notes and an archive per OS
// and architecture.
type Manifest struct {
	Version string `json:"version"` // semantic, without a leading v
	Date    string `json:"date,omitempty"`
	// Expires is when the manifest stops being believed (RFC 3339): a
	// feed cannot be frozen on an old release by serving its old, signed
	// manifest for ever. make release-manifest signs it for 180 days.
	Expires  string    `json:"expires"`
	Notes    string    `json:"notes"` // the release notes' address (https)
	Archives []Archive `json:"archives"`
}

// Archive is one build of a release.
type Archive struct {
	OS   string `json:"os"`   // runtime.GOOS
	Arch string `json:"arch"` // runtime.GOARCH
	// Flavors are the builds it holds: "desktop" (keypool, with the
	// window) and "headless" (keypool-headless, or keypool alone in a
	// headless archive).
	Flavors []string `json:"flavors"`
	URL     string   `json:"url"`
	SHA256  string   `json:"sha256"` // hex
	Size    int64    `json:"size,omitempty"`
}

// The flavors of a build.
const (
	Desktop  = "desktop"
	Headless = "headless"
)

// ThisFlavor is the running build's flavor: a build without cgo has no
// window (make build-headless).
func ThisFlavor() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "CGO_ENABLED" && s.Value == "0" {
				return Headless
			}
		}
	}
	return Desktop
}

// Signed is what the feed serves: the manifest's bytes and their ed25519
// signature, both base64. The manifest is read only once the signature
// checks out.
type Signed struct {
	Manifest  string `json:"manifest"`
	Signature string `json:"signature"`
}

// Errors a manifest is refused with.
var (
	ErrUnsigned     = errors.New("the release manifest is not signed")
	ErrBadSignature = errors.New("the release manifest's signature is not the release key's")
	ErrMalformed    = errors.New("the release manifest is malformed")
	ErrNoArchive    = errors.New("the release has no archive for this system")
	ErrExpired      = errors.New("the release manifest has expired")
)

// maxManifest bounds what is read from the feed.
const maxManifest = 1 << 20

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Sign signs manifest m with the release's private key, as make
// release-manifest does.
func Sign(m Manifest, key ed25519.PrivateKey) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(Signed{
		Manifest:  base64.StdEncoding.EncodeToString(body),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)),
	}, "", "  ")
}

// Open reads a feed's document: the manifest, if its signature is key's
// and it is well formed.
func Open(doc []byte, key ed25519.PublicKey) (Manifest, error) {
	var s Signed
	if err := json.Unmarshal(doc, &s); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s.Signature == "" {
		return Manifest{}, ErrUnsigned
	}
	body, err := base64.StdEncoding.DecodeString(s.Manifest)
	if err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, body, sig) {
		return Manifest{}, ErrBadSignature
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, m.check()
}

// check holds a manifest to what an update needs of it.
func (m Manifest) check() error {
	if !version.Valid(m.Version) {
		return fmt.Errorf("%w: version %q is not a semantic version", ErrMalformed, m.Version)
	}
	if _, err := time.Parse(time.RFC3339, m.Expires); err != nil {
		return fmt.Errorf("%w: expires %q is not an RFC 3339 time", ErrMalformed, m.Expires)
	}
	if m.Notes != "" && !ReleaseURL(m.Notes) {
		return fmt.Errorf("%w: the notes' address %q is not https", ErrMalformed, m.Notes)
	}
	if len(m.Archives) == 0 {
		return fmt.Errorf("%w: no archives", ErrMalformed)
	}
	for _, a := range m.Archives {
		if a.OS == "" || a.Arch == "" || !ReleaseURL(a.URL) || !sha256Hex.MatchString(a.SHA256) || len(a.Flavors) == 0 || a.Size < 0 {
			return fmt.Errorf("%w: archive %s/%s needs an os, arch, flavors, an https url and a hex sha256", ErrMalformed, a.OS, a.Arch)
		}
	}
	return nil
}

// ReleaseURL reports whether u may be a release's address: https, or
// plain http to this machine (a local feed, as in tests). Anything else
// (file:, a share, another scheme a browser or the OS would open) is
// refused even when signed.
func ReleaseURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || p.User != nil {
		return false
	}
	switch p.Scheme {
	case "https":
		return true
	case "http":
		h := p.Hostname()
		if h == "localhost" {
			return true
		}
		ip, err := netip.ParseAddr(h)
		return err == nil && ip.IsLoopback()
	}
	return false
}

// For is the release's archive of flavor for system goos/goarch.
func (m Manifest) For(goos, goarch, flavor string) (Archive, error) {
	for _, a := range m.Archives {
		if a.OS == goos && a.Arch == goarch && slices.Contains(a.Flavors, flavor) {
			return a, nil
		}
	}
	return Archive{}, fmt.Errorf("%w (%s/%s, %s)", ErrNoArchive, goos, goarch, flavor)
}

// Checker reads the release feed.
type Checker struct {
	Feed    string            // the manifest's address
	Key     ed25519.PublicKey // nil: the compiled-in release key
	Client  *http.Client      // nil: one with a time limit per request
	Current string            // this build's version
	Now     func() time.Time  // nil: time.Now
}

// Latest fetches and checks the feed's manifest. newer is whether it is a
// later version than Current.
func (c Checker) Latest(ctx context.Context) (m Manifest, newer bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Feed, nil)
	if err != nil {
		return Manifest{}, false, err
	}
	req.Header.Set("User-Agent", "keypool/"+c.Current)
	resp, err := c.client().Do(req)
	if err != nil {
		return Manifest{}, false, fmt.Errorf("read the release feed: %w", redactErr(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Manifest{}, false, fmt.Errorf("read the release feed: %s", resp.Status)
	}
	doc, err := readAtMost(resp.Body, maxManifest)
	if err != nil {
		return Manifest{}, false, fmt.Errorf("read the release feed: %w", err)
	}
	key := c.Key
	if key == nil {
		key = ReleaseKey
	}
	if m, err = Open(doc, key); err != nil {
		return Manifest{}, false, err
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if exp, _ := time.Parse(time.RFC3339, m.Expires); now().After(exp) {
		return Manifest{}, false, fmt.Errorf("%w (Keypool %s, on %s)", ErrExpired, m.Version, m.Expires)
	}
	return m, version.Compare(m.Version, c.Current) > 0, nil
}

// Redact is an address as it may be logged: without a user, a password,
// a query or a fragment, which may hold a token.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable address)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// redactErr is err with the address an HTTP client's error names
// redacted (the client hides a password, not a query).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = Redact(ue.URL)
	}
	return err
}

// ErrTooLarge: a download or a file in an archive is larger than it may
// be.
var ErrTooLarge = errors.New("larger than a release may be")

// readAtMost reads r whole, or fails when it holds more than limit bytes
// (a cut-off read would be taken for the whole).
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)
	}
	return b, nil
}

// client is the manifest's client: the whole request within a minute.
func (c Checker) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: time.Minute}
}

// downloadClient is the archive's: an archive of tens of MB may take long
// on a slow link, so only the answer's start has a time limit; the
// caller's context bounds the rest.
func (c Checker) downloadClient() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t}
}

// ThisSystem is the archive a release has for the running system and
// build.
func (m Manifest) ThisSystem() (Archive, error) {
	return m.For(runtime.GOOS, runtime.GOARCH, ThisFlavor())
}
