package sqlitedb

import (
	"errors"

	"modernc.org/sqlite"
)

// sqliteReadOnly is SQLITE_READONLY, the primary result code of every
// "attempt to write a readonly database" variant.
const sqliteReadOnly = 8

// IsReadOnly reports whether err is SQLite refusing a write because the
// database (or its -wal/-shm files) cannot be written.
func IsReadOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteReadOnly
}
