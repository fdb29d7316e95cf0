package pool

import "errors"

// AccountState is an account's state as a whole: whether it serves, and if
// not, what it waits for. AccountStateOf decides it, in this one place;
// /health, keypool status, the window and the tray read it and never
// derive it again.
type AccountState string

// The account states, as /health names them.
const (
	StateReady       AccountState = "ready"                         // serves
	StateCooling     AccountState = "cooling"                       // rests until a cooldown ends (a limit, a fault, its budget)
	StateUnavailable AccountState = AccountState(ReasonUnavailable) // rests on a dead key, no credit or a refusal
	StateDisabled    AccountState = AccountState(ReasonDisabled)    // switched off by the user
	StateUnsupported AccountState = AccountState(ReasonUnsupported) // a type this build does not serve
	StateNeedsLogin  AccountState = AccountState(ReasonNeedsLogin)  // waits for the user to log in again
	StateNeedsKey    AccountState = AccountState(ReasonNeedsKey)    // waits for the user to enter its key again
	// StateOverage: its plan is spent and it answers on paid extra usage:
	// used after every plan when allowed, else resting until the reset.
	StateOverage AccountState = AccountState(ReasonOverage)
	// StateStopped: the relay is not running, so nothing is known of its
	// limits (keypool status without a relay).
	StateStopped AccountState = "stopped"
)

// AccountStateOf decides account a's state: known is whether this build
// serves its kind, rest its whole-account cooldown (nil: none), and
// paidOverage whether it answers on paid extra usage now.
func AccountStateOf(a Account, known bool, rest *Cooldown, paidOverage bool) AccountState {
	switch {
	case !known:
		return StateUnsupported
	case !a.Enabled:
		return StateDisabled
	case a.NeedsLogin || rest != nil && rest.Reason == ReasonNeedsLogin:
		return StateNeedsLogin
	case a.NeedsKey || rest != nil && rest.Reason == ReasonNeedsKey:
		return StateNeedsKey
	case paidOverage:
		return StateOverage
	case rest != nil && rest.Reason == ReasonUnavailable:
		return StateUnavailable
	case rest != nil:
		return StateCooling
	}
	return StateReady
}

// Serves reports whether an account in state s takes work: ready, or on
// paid extra usage the user allowed.
func (s AccountState) Serves(allowOverage bool) bool {
	return s == StateReady || s == StateOverage && allowOverage
}

// WaitsForUser reports whether only the user can bring the account back
// (a login, a key).
func (s AccountState) WaitsForUser() bool { return s == StateNeedsLogin || s == StateNeedsKey }

// Rests reports whether the account rests until a time (a cooldown).
func (s AccountState) Rests() bool { return s == StateCooling || s == StateUnavailable }

// Text is the state in a few words, as the window, the tray and keypool
// status say it.
func (s AccountState) Text() string {
	switch s {
	case StateNeedsLogin:
		return "needs login"
	case StateNeedsKey:
		return "needs a key"
	case StateUnsupported:
		return "not supported"
	case StateOverage:
		return "on extra usage"
	}
	return string(s)
}

// ErrNeedsLogin is what an error wraps when an OAuth account's refresh
// token was refused (or it has none): it serves nothing until the user logs
// in again. The token manager returns it and the relay rests the account on
// it; both name this one value.
var ErrNeedsLogin = errors.New("needs login")

// ErrNeedsKey is what a credential error wraps when the account's API key
// is missing (the keychain lost it): it serves nothing until the user enters
// it again.
var ErrNeedsKey = errors.New("needs a key")
