package secrets

// Owner is whose secrets a keychain entry holds: one of the app's accounts
// or one of its local client keys. The owner's kind is the first part of
// every entry's name ("account:work/api_key", "client-key:key-1a2b/api_key"),
// so an account's entries and a client key's can never share a name, whatever
// their ids are. Owners are made only by Account and ClientKey.
type Owner struct {
	kind ownerKind
	id   string
}

// ownerKind is the first part of an entry's name.
type ownerKind string

const (
	kindAccount   ownerKind = "account"
	kindClientKey ownerKind = "client-key"
	// kindLegacy marks the names of Keypool's first keychain layout,
	// "<id>/<field>" with a client key's id written "client-<id>": only
	// MigrateNames reads them.
	kindLegacy ownerKind = ""
)

// Account is the owner of an account's secrets (API key, tokens, proxy
// password).
func Account(id string) Owner { return Owner{kindAccount, id} }

// ClientKey is the owner of a local client key's secret (its APIKey field).
func ClientKey(id string) Owner { return Owner{kindClientKey, id} }

// ID is the owner's id, as the store knows it.
func (o Owner) ID() string { return o.id }

// String names the owner for messages: "account work", "client key key-1a2b".
func (o Owner) String() string {
	switch o.kind {
	case kindAccount:
		return "account " + o.id
	case kindClientKey:
		return "client key " + o.id
	}
	return "entry " + o.id
}

// entry is the keychain entry's user name for field f.
func (o Owner) entry(f Field) string {
	if o.kind == kindLegacy {
		return o.id + "/" + string(f)
	}
	return string(o.kind) + ":" + o.id + "/" + string(f)
}
