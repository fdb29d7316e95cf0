package app

import (
	"context"
	"fmt"
	"net/http"

	"keypool/app/tokens"
	"keypool/relay/pool"
)

// refreshWithProvider exchanges a refresh token at the account kind's
// provider.
func refreshWithProvider(ctx context.Context, kind pool.Kind, client *http.Client, rt string) (tokens.Token, error) {
	return tokens.Token{}, fmt.Errorf("no token refresh for %s accounts in this build", kind)
}
