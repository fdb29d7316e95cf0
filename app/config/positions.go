package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// go-toml's decoder does not say where a decoded value came from, so the
// document is walked once more with its unstable parser to record where each
// key, table header and array element is.

// seg is one part of a key path: a key name, optionally indexed (idx >= 0)
// when it names an element of an array or array of tables. A seg with an
// empty name is a further index into a nested array.
type seg struct {
	name string
	idx  int
}

// fmtPath renders a key path as it appears in messages:
// accounts[1].proxy.port. Parts that are not bare keys are quoted.
func fmtPath(segs []seg) string {
	var b strings.Builder
	for i, s := range segs {
		if s.name != "" {
			if i > 0 {
				b.WriteByte('.')
			}
			if isBareKey(s.name) {
				b.WriteString(s.name)
			} else {
				b.WriteString(strconv.Quote(s.name))
			}
		}
		if s.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// span is the byte range [start, end) of a key-value, table header key or
// array element, with its resolved path.
type span struct {
	segs       []seg
	start, end int
}

// positions knows where each key of a document is.
type positions struct {
	ok         bool           // the document parsed; false means nothing is known
	lineStarts []int          // offset of the first byte of each line
	byPath     map[string]int // fmtPath → offset of the key (first definition)
	spans      []span
	arrays     map[string]int // array-of-tables path → number of [[ ]] seen
	orphan     *Error         // see checkOrphan; File is left empty
}

// maxDepth bounds how deep nested arrays and inline tables are recorded;
// the config format itself is at most three levels deep.
const maxDepth = 16

// scan walks data and records positions. It never fails: on a syntax error it
// returns positions with ok false.
func scan(data []byte) *positions {
	ps := &positions{
		lineStarts: []int{0},
		byPath:     map[string]int{},
		arrays:     map[string]int{},
	}
	for i, c := range data {
		if c == '\n' {
			ps.lineStarts = append(ps.lineStarts, i+1)
		}
	}

	var p unstable.Parser
	p.Reset(data)
	var cur []seg
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			names, start, end := keyParts(e)
			cur = ps.resolve(nil, names)
			ps.add(cur, start, end)
			ps.checkOrphan(cur, start)
		case unstable.ArrayTable:
			names, start, end := keyParts(e)
			if len(names) == 0 {
				continue
			}
			full := ps.resolve(nil, names[:len(names)-1])
			full = append(full, seg{name: names[len(names)-1], idx: -1})
			k := fmtPath(full)
			n := ps.arrays[k]
			ps.arrays[k] = n + 1
			full[len(full)-1].idx = n
			cur = full
			ps.add(cur, start, end)
		case unstable.KeyValue:
			ps.keyValue(cur, e, 0)
		}
	}
	ps.ok = p.Error() == nil
	return ps
}

// checkOrphan notes a [table] header inside an array of tables that has no
// element yet, such as [accounts.proxy] before any [[accounts]]: go-toml
// would quietly create an empty first element for it.
func (ps *positions) checkOrphan(path []seg, start int) {
	if ps.orphan != nil {
		return
	}
	n := schema
	for i, s := range path[:max(len(path)-1, 0)] {
		if n = n.field(s.name); n == nil {
			return
		}
		if n.elem != nil && n.elem.fields != nil && s.idx < 0 {
			ps.orphan = &Error{
				Line: ps.line(start),
				Key:  fmtPath(path),
				Msg: fmt.Sprintf("this table belongs to an [[%s]] block but comes before any; move it below the [[%s]] it is for",
					fmtPath(path[:i+1]), fmtPath(path[:i+1])),
			}
			return
		}
		if s.idx >= 0 {
			n = n.elem
		}
		if n == nil {
			return
		}
	}
}

// keyParts returns the names of a key and the byte range they cover.
func keyParts(n *unstable.Node) (names []string, start, end int) {
	it := n.Key()
	first := true
	for it.Next() {
		k := it.Node()
		names = append(names, string(k.Data))
		if first {
			start = int(k.Raw.Offset)
			first = false
		}
		end = int(k.Raw.Offset + k.Raw.Length)
	}
	return names, start, end
}

// resolve appends names to base; a name that is an array of tables refers to
// its last element so far.
func (ps *positions) resolve(base []seg, names []string) []seg {
	out := make([]seg, len(base), len(base)+len(names))
	copy(out, base)
	for _, name := range names {
		out = append(out, seg{name: name, idx: -1})
		if n, ok := ps.arrays[fmtPath(out)]; ok && n > 0 {
			out[len(out)-1].idx = n - 1
		}
	}
	return out
}

func (ps *positions) add(segs []seg, start, end int) {
	k := fmtPath(segs)
	if _, ok := ps.byPath[k]; !ok {
		ps.byPath[k] = start
	}
	if end <= start {
		end = start + 1
	}
	ps.spans = append(ps.spans, span{segs: segs, start: start, end: end})
}

func (ps *positions) keyValue(base []seg, kv *unstable.Node, depth int) {
	names, start, _ := keyParts(kv)
	path := ps.resolve(base, names)
	ps.add(path, start, int(kv.Raw.Offset+kv.Raw.Length))
	ps.value(path, kv.Value(), depth+1)
}

func (ps *positions) value(path []seg, v *unstable.Node, depth int) {
	if depth > maxDepth {
		return
	}
	switch v.Kind {
	case unstable.Array:
		i := 0
		it := v.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			ep := make([]seg, len(path), len(path)+1)
			copy(ep, path)
			if last := &ep[len(ep)-1]; last.idx < 0 {
				last.idx = i
			} else {
				ep = append(ep, seg{idx: i})
			}
			if start, ok := nodeStart(c); ok {
				end := start + 1
				if c.Kind != unstable.Array && c.Kind != unstable.InlineTable {
					end = int(c.Raw.Offset + c.Raw.Length)
				}
				ps.add(ep, start, end)
			}
			ps.value(ep, c, depth+1)
			i++
		}
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if c := it.Node(); c.Kind == unstable.KeyValue {
				ps.keyValue(path, c, depth)
			}
		}
	}
}

// nodeStart is the offset where a value starts. Arrays carry no range of
// their own, so their first element's is used.
func nodeStart(n *unstable.Node) (int, bool) {
	for depth := 0; n != nil && depth <= maxDepth; depth++ {
		if n.Kind != unstable.Array {
			return int(n.Raw.Offset), true
		}
		n = n.Child()
		for n != nil && n.Kind == unstable.Comment {
			n = n.Next()
		}
	}
	return 0, false
}

// line is the 1-based line of a byte offset.
func (ps *positions) line(off int) int {
	return sort.Search(len(ps.lineStarts), func(i int) bool { return ps.lineStarts[i] > off })
}

// lineOf is the line where key is defined. A key that is absent falls back to
// its closest present parent (for example an account's [[accounts]] header);
// 0 when nothing is known.
func (ps *positions) lineOf(key string) int {
	for key != "" {
		if off, ok := ps.byPath[key]; ok {
			return ps.line(off)
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// has reports whether key appears in the document.
func (ps *positions) has(key string) bool {
	_, ok := ps.byPath[key]
	return ok
}

// at returns the path of the innermost recorded item that contains the
// 1-based row and column.
func (ps *positions) at(row, col int) ([]seg, bool) {
	if row < 1 || row > len(ps.lineStarts) {
		return nil, false
	}
	off := ps.lineStarts[row-1] + col - 1
	best := -1
	for i, s := range ps.spans {
		if s.start <= off && off < s.end && (best < 0 || s.end-s.start < ps.spans[best].end-ps.spans[best].start) {
			best = i
		}
	}
	if best < 0 {
		return nil, false
	}
	return ps.spans[best].segs, true
}
