package relay

import (
	"net/http"

	"keypool/relay/pool"
)

// planQuota reads the plan windows an answer reports for an account of
// kind k, through its provider's reader; nil for kinds without a plan.
func planQuota(k pool.Kind, h http.Header) []pool.Quota {
	if read := providerOf(k).PlanQuota; read != nil {
		return read(h)
	}
	return nil
}
