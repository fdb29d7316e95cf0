package store

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ClientKey names a local client key. The key itself is in the keychain.
type ClientKey struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
	// Profile and Accounts make it a profile's key: its clients are served
	// by these accounts only. Empty: a key for the whole pool.
	Profile  string   `json:"profile,omitempty"`
	Accounts []string `json:"accounts,omitempty"`
}

// ClientKeys lists the local client keys, oldest first.
func (s *Store) ClientKeys() ([]ClientKey, error) {
	var out []ClientKey
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClientKeys)
		if b == nil {
			return nil // a read-only open of a file from before client keys existed
		}
		return b.ForEach(func(_, v []byte) error {
			var k ClientKey
			if err := json.Unmarshal(v, &k); err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read client keys from %s: %w", s.path, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// PutClientKey saves a client key's name.
func (s *Store) PutClientKey(k ClientKey) error {
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClientKeys).Put([]byte(k.ID), v)
	})
}

// DeleteClientKey removes a client key's name.
func (s *Store) DeleteClientKey(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClientKeys).Delete([]byte(id))
	})
}
