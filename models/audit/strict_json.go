package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// StrictJSON decodes one object, refusing unknown and duplicate keys and
// trailing data, so no other reader of the line can see other values.
func StrictJSON(line []byte, v any) error {
	if err := NoDuplicateKeys(line); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// NoDuplicateKeys checks the top-level keys of a JSON object: encoding/json
// would keep the last of two, and matches keys without regard to case, so
// keys must also be lowercase ASCII ("note" and "Note" are one key to it).
func NoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		for _, c := range []byte(key) {
			if (c < 'a' || c > 'z') && c != '_' && (c < '0' || c > '9') {
				return fmt.Errorf("key %q is not lowercase ASCII", key)
			}
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
