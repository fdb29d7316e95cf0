// Package prices prices a request's tokens: a bundled, dated table taken
// from the npm package @pydantic/genai-prices (MIT; see LICENSE.genai-prices
// and prices.json's "source"), refreshed with `make prices`, which a user
// file can extend or override.
package prices

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"keypool/relay/pool"
)

//go:embed prices.json
var bundled []byte

// Table is a price table.
type Table struct {
	Source    string             `json:"source"`
	Generated string             `json:"generated"`
	Providers map[string][]Model `json:"providers"`

	cache sync.Map // provider+"\x00"+model → *Model (nil: unknown)
}

// Model is one model's prices.
type Model struct {
	ID     string          `json:"id"`
	Match  Match           `json:"match"`
	Prices json.RawMessage `json:"prices"`

	once sync.Once
	sets []priceSet // by start date, oldest first
	err  error
}

// Match says which model names a Model covers.
type Match struct {
	Equals     *string `json:"equals"`
	StartsWith *string `json:"starts_with"`
	EndsWith   *string `json:"ends_with"`
	Contains   *string `json:"contains"`
	Regex      *string `json:"regex"`
	Or         []Match `json:"or"`
	And        []Match `json:"and"`
}

// Matches reports whether name is covered.
func (m Match) Matches(name string) bool {
	switch {
	case m.Equals != nil:
		return name == *m.Equals
	case m.StartsWith != nil:
		return strings.HasPrefix(name, *m.StartsWith)
	case m.EndsWith != nil:
		return strings.HasSuffix(name, *m.EndsWith)
	case m.Contains != nil:
		return strings.Contains(name, *m.Contains)
	case m.Regex != nil:
		re, err := regexp.Compile(*m.Regex)
		return err == nil && re.MatchString(name)
	case m.Or != nil:
		for _, o := range m.Or {
			if o.Matches(name) {
				return true
			}
		}
		return false
	case m.And != nil:
		for _, a := range m.And {
			if !a.Matches(name) {
				return false
			}
		}
		return len(m.And) > 0
	}
	return false
}

// tiered is a per-million-token price, maybe higher past an input size.
type tiered struct {
	Base  float64 `json:"base"`
	Tiers []struct {
		Start int64   `json:"start"`
		Price float64 `json:"price"`
	} `json:"tiers"`
}

func (t *tiered) UnmarshalJSON(b []byte) error {
	var f float64
	if json.Unmarshal(b, &f) == nil {
		t.Base = f
		return nil
	}
	type plain tiered
	return json.Unmarshal(b, (*plain)(t))
}

// at is the price for a request whose input is inputTokens long.
func (t *tiered) at(inputTokens int64) float64 {
	if t == nil {
		return 0
	}
	p := t.Base
	for _, tier := range t.Tiers {
		if inputTokens > tier.Start {
			p = tier.Price
		}
	}
	return p
}

type priceSet struct {
	start      time.Time
	Input      *tiered `json:"input_mtok"`
	Output     *tiered `json:"output_mtok"`
	CacheRead  *tiered `json:"cache_read_mtok"`
	CacheWrite *tiered `json:"cache_write_mtok"`
}

func (m *Model) load() ([]priceSet, error) {
	m.once.Do(func() {
		var one priceSet
		if json.Unmarshal(m.Prices, &one) == nil && (one.Input != nil || one.Output != nil) {
			m.sets = []priceSet{one}
			return
		}
		var list []struct {
			Constraint *struct {
				StartDate string `json:"start_date"`
			} `json:"constraint"`
			Prices priceSet `json:"prices"`
		}
		if err := json.Unmarshal(m.Prices, &list); err != nil {
			m.err = fmt.Errorf("prices of %s: %w", m.ID, err)
			return
		}
		for _, c := range list {
			s := c.Prices
			if c.Constraint != nil {
				s.start, _ = time.Parse("2006-01-02", c.Constraint.StartDate)
			}
			m.sets = append(m.sets, s)
		}
		sort.SliceStable(m.sets, func(i, j int) bool { return m.sets[i].start.Before(m.sets[j].start) })
	})
	return m.sets, m.err
}

// Parse reads a table in prices.json's format.
func Parse(b []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("price table: %w", err)
	}
	return &t, nil
}

// Bundled is the table shipped with Keypool.
func Bundled() *Table {
	t, err := Parse(bundled)
	if err != nil {
		panic(err) // the embedded file is checked by a test
	}
	return t
}

// Load returns the bundled table, with a user file's providers' models (if
// path exists) placed before the bundled ones so they win.
func Load(path string) (*Table, error) {
	t := Bundled()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	user, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for p, models := range user.Providers {
		t.Providers[p] = append(models, t.Providers[p]...)
	}
	t.Source = user.Source + " + " + t.Source
	return t, nil
}

// ProviderOf names the price provider of a model name.
func ProviderOf(model string) string {
	switch m := strings.ToLower(model); {
	case strings.HasPrefix(m, "claude"):
		return "anthropic"
	case strings.HasPrefix(m, "gemini"):
		return "google"
	case strings.HasPrefix(m, "gpt"), strings.HasPrefix(m, "o1"), strings.HasPrefix(m, "o3"), strings.HasPrefix(m, "o4"), strings.HasPrefix(m, "codex"):
		return "openai"
	}
	return ""
}

// Cost is the USD price of a request's usage on model at time at, and
// whether the model is in the table. Usage counts input without cache
// reads (Keypool's convention), so each kind is priced once.
func (t *Table) Cost(model string, u pool.Usage, at time.Time) (float64, bool) {
	m := t.find(ProviderOf(model), model)
	if m == nil {
		return 0, false
	}
	sets, err := m.load()
	if err != nil || len(sets) == 0 {
		return 0, false
	}
	s := sets[0]
	for _, c := range sets {
		if !c.start.After(at) {
			s = c
		}
	}
	in := u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens
	cost := float64(u.InputTokens)*s.Input.at(in) + float64(u.OutputTokens)*s.Output.at(in) +
		float64(u.CacheReadTokens)*s.CacheRead.at(in) + float64(u.CacheWriteTokens)*s.CacheWrite.at(in)
	return cost / 1e6, true
}

func (t *Table) find(provider, model string) *Model {
	key := provider + "\x00" + model
	if v, ok := t.cache.Load(key); ok {
		return v.(*Model)
	}
	var found *Model
	for _, p := range []string{provider, "anthropic", "openai", "google"} {
		models := t.Providers[p]
		for i := range models {
			if models[i].Match.Matches(model) {
				found = &models[i]
				break
			}
		}
		if found != nil {
			break
		}
	}
	t.cache.Store(key, found)
	return found
}
