package audit

import (
	"database/sql"
	"strconv"
)

// EventColumns are the audit_events columns in Fields order, then the hash.
const EventColumns = `seq, at_unix_us, type, actor_type, actor_id, actor_display, request_id, purpose, action, policy_ref, payload, prev_hash, hash`

// EventsBetween selects the events with lo < seq <= hi in order. Bounds are
// integers formatted here, so the query needs no dialect-specific
// placeholders.
func EventsBetween(columns string, lo, hi int64) string {
	return `SELECT ` + columns + ` FROM audit_events WHERE seq > ` + strconv.FormatInt(lo, 10) +
		` AND seq <= ` + strconv.FormatInt(hi, 10) + ` ORDER BY seq`
}

// ScanEvent reads one row selected with EventColumns into f and hash without
// copying: the slices are valid until the next Next or Close.
func ScanEvent(rows *sql.Rows, f *Fields, hash *sql.RawBytes) error {
	return rows.Scan(&f.Seq, &f.AtUnixUS, (*sql.RawBytes)(&f.Type), (*sql.RawBytes)(&f.ActorType), (*sql.RawBytes)(&f.ActorID),
		(*sql.RawBytes)(&f.ActorDisplay), (*sql.RawBytes)(&f.RequestID), (*sql.RawBytes)(&f.Purpose), (*sql.RawBytes)(&f.Action),
		(*sql.RawBytes)(&f.PolicyRef), (*sql.RawBytes)(&f.Payload), (*sql.RawBytes)(&f.PrevHash), hash)
}
