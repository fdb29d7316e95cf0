package relay

import (
	"net/http"

	"keypool/relay/pool"
	"keypool/relay/provider"
)

// planQuota reads the plan windows an answer reports for an account of
// provider up's kind, through its reader; nil for kinds without a plan.
func planQuota(up *provider.Provider, h http.Header) []pool.Quota {
	if read := up.PlanQuota; read != nil {
		return read(h)
	}
	return nil
}
