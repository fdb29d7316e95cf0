package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"keypool/relay/guard"
	"keypool/relay/pool"
	"keypool/relay/sched"
)

// Profile is a named subset of the accounts, served to the clients that
// present its own client key: one pool per project ("work": the company's
// accounts). Inside it the relay fails over, keeps conversations, forecasts
// and spends as it does for the whole pool; with none of its accounts left
// it answers as an exhausted pool does.
type Profile struct {
	Name     string
	Accounts []string
	// Key is the profile's client key: a secret, compared and never shown.
	Key string
}

// String names the profile and its accounts, never its key.
func (p Profile) String() string { return fmt.Sprintf("profile %s %v", p.Name, p.Accounts) }

// GoString is String, so %#v does not print the key either.
func (p Profile) GoString() string { return p.String() }

// FolderRoute serves the Codex sessions started in Dir (or below it) with a
// profile, for clients that present no profile key: Codex reads no base
// URL or key from a project's own config, but says in every request where
// it runs (its environment context's <cwd>).
type FolderRoute struct {
	Dir     string
	Profile string
}

// SetFolderRoutes replaces the folder routes.
func (s *Server) SetFolderRoutes(rs []FolderRoute) {
	rs = slices.Clone(rs)
	// The deepest folder first: a project inside another gets its own.
	slices.SortFunc(rs, func(a, b FolderRoute) int { return len(b.Dir) - len(a.Dir) })
	s.folders.Store(&rs)
}

// folderProfile is the profile a Codex request's body routes to by the
// folder its session started in, or nil.
func (s *Server) folderProfile(body []byte) *profile {
	rs := s.folders.Load()
	if rs == nil || len(*rs) == 0 {
		return nil
	}
	cwd := codexCwd(body)
	if cwd == "" {
		return nil
	}
	for _, r := range *rs {
		if cwd == r.Dir || strings.HasPrefix(cwd, strings.TrimSuffix(r.Dir, "/")+"/") {
			if m := s.profilesByName.Load(); m != nil {
				return (*m)[r.Profile]
			}
		}
	}
	return nil
}

// codexCwd is the working folder a Codex request's first environment
// context names ("<cwd>/home/me/work</cwd>" in a user message, codex-cli
// 0.171.0), JSON escapes undone; "" when there is none.
func codexCwd(body []byte) string {
	i := bytes.Index(body, []byte("<cwd>"))
	if i < 0 {
		return ""
	}
	rest := body[i+len("<cwd>"):]
	j := bytes.Index(rest, []byte("</cwd>"))
	if j < 0 || j > 4096 {
		return ""
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, rest[:j]...), '"'), &s) != nil {
		return ""
	}
	return s
}

// profile is a Profile as the relay serves it, found by its key's id.
type profile struct {
	name     string
	accounts map[string]bool
	// view is its accounts' slice of the account set it was last built
	// for, rebuilt when the set changes.
	view atomic.Pointer[profileView]
}

// profileView is the accounts of one profile in one account set: for each
// protocol, the entries and candidates of accountSet restricted to it,
// aligned as there.
type profileView struct {
	set    *accountSet
	served map[pool.Protocol][]*entry
	cands  map[pool.Protocol][]sched.Candidate
}

// SetClientKeys replaces the keys local clients must present (none: open,
// loopback only).
func (s *Server) SetClientKeys(keys []string) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	s.clientKeys = slices.Clone(keys)
	s.storeGuard()
}

// SetProfiles replaces the profiles. A profile's key identifies its
// clients; profile keys alone do not make a relay on loopback require keys
// (see guard.NewWithProfiles).
func (s *Server) SetProfiles(ps []Profile) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	byClient := make(map[string]*profile, len(ps))
	byName := make(map[string]*profile, len(ps))
	s.profileKeys = s.profileKeys[:0]
	for _, p := range ps {
		pr := &profile{name: p.Name, accounts: make(map[string]bool, len(p.Accounts))}
		for _, id := range p.Accounts {
			pr.accounts[id] = true
		}
		byClient[guard.KeyID(p.Key)] = pr
		byName[p.Name] = pr
		s.profileKeys = append(s.profileKeys, p.Key)
	}
	s.profiles.Store(&byClient)
	s.profilesByName.Store(&byName)
	s.storeGuard()
}

// storeGuard builds the guard from the client and profile keys.
func (s *Server) storeGuard() {
	s.guard.Store(guard.NewWithProfiles(s.clientKeys, s.profileKeys, s.cfg.ListenHost, s.cfg.Public))
}

// profileOf is the profile whose key client presented, or nil.
func (s *Server) profileOf(client string) *profile {
	if m := s.profiles.Load(); m != nil {
		return (*m)[client]
	}
	return nil
}

// within is set restricted to the profile's accounts, built once per
// account set.
func (p *profile) within(set *accountSet) *profileView {
	if v := p.view.Load(); v != nil && v.set == set {
		return v
	}
	v := &profileView{set: set, served: map[pool.Protocol][]*entry{}, cands: map[pool.Protocol][]sched.Candidate{}}
	for proto, es := range set.served {
		for i, e := range es {
			if p.accounts[e.acct.ID] {
				v.served[proto] = append(v.served[proto], e)
				v.cands[proto] = append(v.cands[proto], set.cands[proto][i])
			}
		}
	}
	p.view.Store(v)
	return v
}
