package app

import (
	"context"
	"fmt"
	"net/http"

	"keypool/app/tokens"
	"keypool/relay/oauth"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// ProviderFor is the OAuth provider of an account kind, as its row in
// relay/provider names it, with the endpoints the environment overrides
// (see relay/oauth).
func ProviderFor(kind pool.Kind) (oauth.Provider, error) {
	if k := provider.For(kind); k != nil && k.IsOAuth() {
		return oauth.FromEnv(k.OAuth()), nil
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
