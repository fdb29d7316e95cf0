package store

import bolt "go.etcd.io/bbolt"

// Setting reads an app setting ("" when unset).
func (s *Store) Setting(key string) (string, error) {
	var v string
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSettings); b != nil { // nil: a read-only open of a file from before settings existed
			v = string(b.Get([]byte(key)))
		}
		return nil
	})
	return v, err
}

// PutSetting saves an app setting.
func (s *Store) PutSetting(key, value string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte(key), []byte(value))
	})
}
