package search

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/countersign/countersign/models/audit"
)

// ExportFormat is a search export's file format.
type ExportFormat string

// The export formats.
const (
	// ExportCSV is RFC 4180 CSV with a header row (CSVHeader), cells that
	// spreadsheets would run as formulas prefixed with a quote.
	ExportCSV ExportFormat = "csv"
	// ExportJSONL is JSON Lines: one event per line in the exact form of a
	// bundle's event lines (without "kind"), so each line can be re-hashed.
	ExportJSONL ExportFormat = "jsonl"
)

// CSVHeader names the columns of a CSV export: the event's hashed fields
// in hashing order, its hash, the event time as text, and the request's
// current state and channel.
var CSVHeader = []string{"seq", "at_unix_us", "type", "actor_type", "actor_id", "actor_display", "request_id", "purpose", "action",
	"policy_ref", "payload", "prev_hash", "hash", "time", "request_state", "channel"}

// exportFlushEvery is how many rows are written between flushes to the
// client, so a long export streams instead of filling a buffer.
const exportFlushEvery = 500

// flusher is implemented by writers that can push buffered bytes to the
// client (http.ResponseWriter).
type flusher interface{ Flush() }

// Export writes every event matching q, newest first, to w in format,
// streaming from one database cursor: memory stays constant however many
// events match. It returns how many events were written. When w can flush
// (an HTTP response), it is flushed every few hundred rows.
func (s *Searcher) Export(ctx context.Context, w io.Writer, format ExportFormat, q Query) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	var row func(h *Hit) error
	var finish func() error
	switch format {
	case ExportCSV:
		cw := csv.NewWriter(bw)
		if err := cw.Write(CSVHeader); err != nil {
			return 0, fmt.Errorf("audit export: %w", err)
		}
		cells := make([]string, len(CSVHeader))
		row = func(h *Hit) error {
			csvRow(cells, h)
			return cw.Write(cells)
		}
		finish = func() error { cw.Flush(); return cw.Error() }
	case ExportJSONL:
		var buf []byte
		row = func(h *Hit) error {
			buf = audit.AppendEventJSON(buf[:0], h.Event.Fields(), []byte(h.Event.Hash), false)
			buf = append(buf, '\n')
			_, err := bw.Write(buf)
			return err
		}
		finish = func() error { return nil }
	default:
		return 0, fmt.Errorf("audit export: unknown format %q", format)
	}
	f, canFlush := w.(flusher)
	err := s.Stream(ctx, q, func(h *Hit) error {
		if err := row(h); err != nil {
			return fmt.Errorf("audit export: write event %d: %w", h.Event.Seq, err)
		}
		n++
		if n%exportFlushEvery == 0 {
			if err := finish(); err != nil {
				return fmt.Errorf("audit export: %w", err)
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("audit export: %w", err)
			}
			if canFlush {
				f.Flush()
			}
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := finish(); err != nil {
		return n, fmt.Errorf("audit export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit export: %w", err)
	}
	if canFlush {
		f.Flush()
	}
	return n, nil
}

// csvRow fills cells with h's columns (CSVHeader order).
func csvRow(cells []string, h *Hit) {
	e := &h.Event
	cells[0] = strconv.FormatInt(e.Seq, 10)
	cells[1] = strconv.FormatInt(e.AtUnixUS, 10)
	cells[2] = CSVCell(e.Type)
	cells[3] = CSVCell(string(e.ActorType))
	cells[4] = CSVCell(e.ActorID)
	cells[5] = CSVCell(e.ActorDisplay)
	cells[6] = CSVCell(e.RequestID)
	cells[7] = CSVCell(e.Purpose)
	cells[8] = CSVCell(e.Action)
	cells[9] = CSVCell(e.PolicyRef)
	cells[10] = CSVCell(e.Payload)
	cells[11] = CSVCell(e.PrevHash)
	cells[12] = CSVCell(e.Hash)
	cells[13] = time.UnixMicro(e.AtUnixUS).UTC().Format("2006-01-02T15:04:05.000000Z")
	cells[14] = CSVCell(string(h.Request.State))
	cells[15] = CSVCell(h.Request.ChannelName)
}

// CSVCell protects a text cell from spreadsheet formula injection: text
// starting with = + - @, a tab or a carriage return (which spreadsheets run
// as formulas) gets a leading apostrophe, and so does text already starting
// with one, so UnCSVCell restores every value exactly.
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return "'" + s
	}
	return s
}

// UnCSVCell undoes CSVCell: it drops one leading apostrophe.
func UnCSVCell(s string) string {
	if len(s) > 0 && s[0] == '\'' {
		return s[1:]
	}
	return s
}
