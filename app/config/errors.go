package config

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Error is a problem with a config file. Its message never contains a secret
// value.
//
// Error() reads "File:Line:Col: Key: Msg"; Col is only set for TOML syntax
// errors, Key is empty for them, and Line is 0 when no line is known (parts
// that are zero or empty are left out).
type Error struct {
	File string
	Line int    // 1-based; 0 if unknown
	Col  int    // 1-based byte column; only for syntax errors
	Key  string // dotted key with 0-based array indices, e.g. "accounts[1].auth_header"
	Msg  string

	err error // underlying cause, e.g. from os.ReadFile
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, if any (for example an
// fs.ErrNotExist from Load).
func (e *Error) Unwrap() error { return e.err }

// joinErrors returns nil, the only error, or the errors sorted by line and
// joined.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

var (
	reMismatch = regexp.MustCompile(`^cannot decode TOML (.+?) into `)
	reStore    = regexp.MustCompile(`^cannot store an? (array table|table) in `)
	reDefined  = regexp.MustCompile(`^key .* is already defined$`)
)

// decodeErrors turns an error from go-toml's decoder into *Error values.
func decodeErrors(name string, pos *positions, err error) []*Error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var out []*Error
		for i := range strict.Errors {
			out = append(out, unknownKeyError(name, pos, &strict.Errors[i]))
		}
		return out
	}

	var de *toml.DecodeError
	if !errors.As(err, &de) {
		// Not expected from go-toml with a bytes reader; keep the file name.
		return []*Error{{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}}
	}
	row, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")

	if !pos.ok {
		// A syntax error: no keys to name, just where it is.
		return []*Error{{File: name, Line: row, Col: col, Msg: msg}}
	}
	segs, found := pos.at(row, col)
	if !found {
		segs = segsFromKey(de.Key())
	}
	if reStore.MatchString(msg) && len(segs) > 0 && segs[len(segs)-1].idx >= 0 {
		// [[server]]: the walker counted it as element 0 of an array.
		segs = append([]seg(nil), segs...)
		segs[len(segs)-1].idx = -1
	}
	e := &Error{File: name, Line: row, Key: fmtPath(segs)}
	want := schemaLookup(segs)
	switch {
	case reMismatch.MatchString(msg):
		got := reMismatch.FindStringSubmatch(msg)[1]
		if want != nil {
			e.Msg = "expected " + want.want + ", got " + article(got)
		} else {
			e.Msg = "has the wrong type (" + got + ")"
		}
	case reStore.MatchString(msg):
		got := reStore.FindStringSubmatch(msg)[1]
		if want != nil {
			e.Msg = "expected " + want.want + ", got " + article(got)
		} else {
			e.Msg = "cannot be " + article(got)
		}
	case reDefined.MatchString(msg):
		e.Msg = "is defined more than once"
	default:
		e.Msg = msg
	}
	if e.Key == "" {
		e.Col = col
	}
	return []*Error{e}
}

func article(kind string) string {
	switch kind {
	case "integer", "array", "array table", "inline table":
		return "an " + kind
	}
	return "a " + kind
}

// unknownKeyError describes a key or table that the format does not have.
func unknownKeyError(name string, pos *positions, de *toml.DecodeError) *Error {
	row, col := de.Position()
	segs, found := pos.at(row, col)
	if !found {
		segs = segsFromKey(de.Key())
	}
	// Find the deepest known table on the path; the next part is the
	// unknown one.
	table := schema
	tableSegs := 0
	for i, s := range segs {
		f := table.field(s.name)
		if f == nil {
			break
		}
		if s.idx >= 0 {
			f = f.elem
		}
		if f == nil || f.fields == nil {
			break
		}
		table = f
		tableSegs = i + 1
	}
	if tableSegs < len(segs) {
		segs = segs[:tableSegs+1]
		segs[tableSegs].idx = -1
	}
	e := &Error{File: name, Line: row, Key: fmtPath(segs)}
	if len(segs) > 0 {
		if f := table.field(segs[len(segs)-1].name); f != nil {
			// A known key used as something it is not, e.g. accounts.x = 1.
			e.Msg = "expected " + f.want
			return e
		}
	}
	what := "key"
	if de.Error() == "toml: missing table" {
		what = "table"
	}
	where := "at the top level"
	if tableSegs > 0 {
		where = "in " + table.header
	}
	unknown := ""
	if len(segs) > 0 {
		unknown = segs[len(segs)-1].name
	}
	if tableSegs > 0 && what == "key" && schema.field(unknown) != nil {
		e.Msg = "unknown key " + where + "; " + unknown + " is a top-level key and must come before the first [table] header"
	} else if s := table.suggest(unknown); s != "" {
		e.Msg = "unknown " + what + " " + where + "; did you mean " + strconv.Quote(s) + "?"
	} else {
		e.Msg = "unknown " + what + " " + where + "; allowed: " + strings.Join(table.names(), ", ")
	}
	return e
}

func segsFromKey(k toml.Key) []seg {
	out := make([]seg, len(k))
	for i, name := range k {
		out[i] = seg{name: name, idx: -1}
	}
	return out
}

// schemaNode describes one key of the format, for error messages.
type schemaNode struct {
	name   string
	want   string        // "an integer", ...
	header string        // for tables: how the table is written, e.g. "[server]"
	fields []*schemaNode // for tables
	elem   *schemaNode   // for arrays
}

func (n *schemaNode) field(name string) *schemaNode {
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

func (n *schemaNode) names() []string {
	out := make([]string, len(n.fields))
	for i, f := range n.fields {
		out[i] = f.name
	}
	return out
}

// suggest returns the known key that name is most likely a typo of, or "".
func (n *schemaNode) suggest(name string) string {
	name = strings.ToLower(name)
	limit := 1
	if len(name) > 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, f := range n.fields {
		if d := editDistance(name, f.name); d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if best == "" && len(name) >= 4 {
		for _, f := range n.fields {
			if strings.HasPrefix(f.name, name) {
				return f.name
			}
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent bytes
// each count one. Long inputs are not compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func str(name string) *schemaNode  { return &schemaNode{name: name, want: "a string"} }
func num(name string) *schemaNode  { return &schemaNode{name: name, want: "an integer"} }
func flag(name string) *schemaNode { return &schemaNode{name: name, want: "a boolean (true or false)"} }

var proxySchema = &schemaNode{
	name: "proxy", want: "a table", header: "[accounts.proxy]",
	fields: []*schemaNode{str("type"), str("host"), num("port"), str("username"), str("password")},
}

var accountSchema = &schemaNode{
	name: "accounts", want: "a table", header: "[[accounts]]",
	fields: []*schemaNode{
		str("type"), str("id"), str("name"), num("priority"), flag("enabled"),
		str("api_key"), str("refresh_token"), str("access_token"),
		str("api_url"), str("auth_header"), proxySchema,
		{name: "daily_budget_usd", want: "a number"}, {name: "monthly_budget_usd", want: "a number"},
		{name: "models", want: "an array of strings", elem: str("")}, str("project"), flag("converted_traffic"), flag("allow_overage"),
	},
}

var schema = &schemaNode{
	want: "a table",
	fields: []*schemaNode{
		{name: "api_keys", want: "an array of strings", elem: str("")},
		{name: "server", want: "a table", header: "[server]", fields: []*schemaNode{
			str("host"), num("port"), str("database_path"), str("log_level"),
			num("idle_timeout_seconds"), num("max_body_bytes"),
		}},
		{name: "session", want: "a table", header: "[session]", fields: []*schemaNode{
			num("sticky_ttl_seconds"), num("renewal_threshold_seconds"),
			num("unavailable_cooldown_seconds"), num("rate_limit_cooldown_seconds"),
		}},
		{name: "accounts", want: "an array of tables ([[accounts]])", elem: accountSchema},
		{name: "models", want: "a table of model names", header: "[models]"},
		{name: "client_budgets", want: "a table of daily USD caps", header: "[client_budgets]"},
		{name: "scheduler", want: "a table", header: "[scheduler]", fields: []*schemaNode{
			str("strategy"), {name: "fill_threshold", want: "a number between 0 and 1"},
		}},
		{name: "allowed_models", want: "a table of model lists", header: "[allowed_models]"},
		{name: "spend", want: "a table", header: "[spend]", fields: []*schemaNode{
			{name: "paid_daily_usd", want: "a number (USD; 0: no cap)"},
		}},
		{name: "notify", want: "a table", header: "[notify]", fields: []*schemaNode{num("runway_minutes")}},
	},
}

// schemaLookup returns the schema node for a key path, or nil.
func schemaLookup(segs []seg) *schemaNode {
	n := schema
	for _, s := range segs {
		if s.name != "" {
			if n = n.field(s.name); n == nil {
				return nil
			}
		}
		if s.idx >= 0 {
			if n = n.elem; n == nil {
				return nil
			}
		}
	}
	return n
}
