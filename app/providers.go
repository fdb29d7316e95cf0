package app

import (
	"context"
	"fmt"
	"net/http"

	"keypool/app/oauth"
	"keypool/app/tokens"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// ProviderFor is the OAuth provider of an account kind, with the endpoints
// the environment overrides (see app/oauth).
func ProviderFor(kind pool.Kind) (oauth.Provider, error) {
	if k := provider.For(kind); k != nil && k.IsOAuth() {
		if p, ok := oauth.ByName(k.OAuth); ok {
			return oauth.FromEnv(p), nil
		}
	}
	return oauth.Provider{}, fmt.Errorf("%s accounts do not log in with OAuth", kind)
}

// refreshWithProvider exchanges a refresh token at the account kind's
// provider.
func refreshWithProvider(ctx context.Context, kind pool.Kind, client *http.Client, rt string) (tokens.Token, error) {
	p, err := ProviderFor(kind)
	if err != nil {
		return tokens.Token{}, err
	}
	t, err := p.Refresh(ctx, client, rt)
	if err != nil {
		return tokens.Token{}, err // a dead grant matches tokens.ErrInvalidGrant as it is
	}
	return tokens.Token{Access: t.AccessToken, Refresh: t.RefreshToken, Expiry: t.Expiry, RefreshExpiry: t.RefreshExpiry}, nil
}
