package app

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"keypool/app/store"
	"keypool/relay"
)

// UsageRecords reads the usage records since a time: from the store, or
// from the running relay's control socket when it holds the store.
func UsageRecords(p Params, since time.Time) ([]relay.UsageRecord, error) {
	setup, err := Resolve(p)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenReadOnly(setup.Files.DB, 200*time.Millisecond)
	switch {
	case errors.Is(err, store.ErrLocked):
		r, derr := DialAccounts(setup.Files.DB)
		if derr != nil {
			return nil, derr
		}
		var out []relay.UsageRecord
		err := r.call("GET", "/v1/records?since="+url.QueryEscape(since.Format(time.RFC3339Nano)), nil, &out)
		return out, err
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer st.Close()
	return st.Records(since, time.Time{}, 0)
}

// csvHeader is the export's columns.
var csvHeader = []string{"time", "route", "client", "account", "model", "stream", "status", "input_tokens", "output_tokens",
	"cache_write_tokens", "cache_read_tokens", "cost_usd", "ttfb_ms", "duration_ms", "failover", "error", "profile", "paid"}

// WriteUsage writes records as csv or json.
func WriteUsage(w io.Writer, recs []relay.UsageRecord, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if recs == nil {
			recs = []relay.UsageRecord{}
		}
		return enc.Encode(recs)
	case "csv", "":
		cw := csv.NewWriter(w)
		cw.Write(csvHeader)
		for _, r := range recs {
			var fo []string
			for _, f := range r.Failover {
				fo = append(fo, f.Account+": "+f.Reason)
			}
			cw.Write([]string{r.Time.UTC().Format(time.RFC3339Nano), r.Route, r.ClientID, r.Account, r.Model,
				strconv.FormatBool(r.Stream), strconv.Itoa(r.Status),
				strconv.FormatInt(r.Usage.InputTokens, 10), strconv.FormatInt(r.Usage.OutputTokens, 10),
				strconv.FormatInt(r.Usage.CacheWriteTokens, 10), strconv.FormatInt(r.Usage.CacheReadTokens, 10),
				strconv.FormatFloat(r.CostUSD, 'f', 6, 64), strconv.FormatInt(r.TTFB.Milliseconds(), 10),
				strconv.FormatInt(r.Duration.Milliseconds(), 10), strings.Join(fo, "; "), r.Error, r.Profile, strconv.FormatBool(r.Paid)})
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("format %q: use csv or json", format)
}

// Summary totals records by day and by one dimension: account, model or
// client.
type Summary struct {
	Day      string  `json:"day"`
	Key      string  `json:"key"`
	Requests int64   `json:"requests"`
	Tokens   int64   `json:"tokens"`
	CostUSD  float64 `json:"cost_usd"`
}

// Summarize groups records by local day and by "account", "model",
// "client" or "profile".
func Summarize(recs []relay.UsageRecord, by string) ([]Summary, error) {
	key := map[string]func(relay.UsageRecord) string{
		"account": func(r relay.UsageRecord) string { return r.Account },
		"model":   func(r relay.UsageRecord) string { return r.Model },
		"client":  func(r relay.UsageRecord) string { return r.ClientID },
		"profile": func(r relay.UsageRecord) string { return cmp.Or(r.Profile, "(whole pool)") },
	}[by]
	if key == nil {
		return nil, fmt.Errorf("--by %q: use account, model, client or profile", by)
	}
	idx := map[[2]string]int{}
	var out []Summary
	for _, r := range recs {
		k := [2]string{r.Time.Local().Format("2006-01-02"), key(r)}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Summary{Day: k[0], Key: k[1]})
		}
		u := r.Usage
		out[i].Requests++
		out[i].Tokens += u.InputTokens + u.OutputTokens + u.CacheWriteTokens + u.CacheReadTokens
		out[i].CostUSD += r.CostUSD
	}
	return out, nil
}

// WriteSummary writes summaries as csv or json.
func WriteSummary(w io.Writer, rows []Summary, by, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"day", by, "requests", "tokens", "cost_usd"})
	for _, s := range rows {
		cw.Write([]string{s.Day, s.Key, strconv.FormatInt(s.Requests, 10), strconv.FormatInt(s.Tokens, 10), strconv.FormatFloat(s.CostUSD, 'f', 6, 64)})
	}
	cw.Flush()
	return cw.Error()
}
