package models

import (
	"context"
	"maps"

	"gorm.io/gorm"
)

// TxLocal holds values that live exactly as long as one write transaction
// and roll back with it: when a group-committed job is rolled back to its
// savepoint, the values it stored are restored to what they were before it
// ran. Values must be immutable (stored by value).
//
// The audit chain keeps its locked head here, so the appends sharing one
// commit read the head from the database once instead of once each.
type TxLocal struct {
	vals map[string]any
}

type txLocalKey struct{}

// Local returns the transaction-scoped values of tx, or nil when tx was not
// started by Store.WithTx (callers then simply do not cache).
func Local(tx *gorm.DB) *TxLocal {
	if tx == nil || tx.Statement == nil || tx.Statement.Context == nil {
		return nil
	}
	l, _ := tx.Statement.Context.Value(txLocalKey{}).(*TxLocal)
	return l
}

// Get returns the value stored under key.
func (l *TxLocal) Get(key string) (any, bool) {
	if l == nil {
		return nil, false
	}
	v, ok := l.vals[key]
	return v, ok
}

// Put stores v under key for the rest of the transaction.
func (l *TxLocal) Put(key string, v any) {
	if l == nil {
		return
	}
	if l.vals == nil {
		l.vals = map[string]any{}
	}
	l.vals[key] = v
}

func (l *TxLocal) snapshot() map[string]any { return maps.Clone(l.vals) }

func (l *TxLocal) restore(s map[string]any) { l.vals = s }

func withTxLocal(ctx context.Context) (context.Context, *TxLocal) {
	l := &TxLocal{}
	return context.WithValue(ctx, txLocalKey{}, l), l
}
