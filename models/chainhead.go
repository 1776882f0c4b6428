package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Lock order.
//
// Every change appends to the one audit chain, so every write transaction
// ends up holding the chain head. A transaction that locked a row first
// (a grant it redeems, a request it moves) and the head second can
// deadlock against another replica's transaction that holds the head and
// wants that row. So on PostgreSQL each write transaction takes the head
// FIRST, before any other lock: a batch of the group committer locks it
// right after BEGIN (runBatch; on SQLite it reads it there too), and
// nothing else in Countersign opens a write transaction. With that single
// order no two transactions can wait on each other in a cycle. On SQLite, BEGIN IMMEDIATE takes the database's
// one write lock at the start, which is the same rule.

// ChainHead is the audit chain's last event: its sequence number and hash.
type ChainHead struct {
	Seq  int64
	Hash string
}

// chainHeadKey names the chain head in a transaction's TxLocal values.
const chainHeadKey = "audit.head"

// TxChainHead returns the chain head as the transaction tx last left it,
// reading it from the database (and on PostgreSQL locking it) the first
// time a transaction asks. Writers of the chain call PutTxChainHead after
// each append so later appends in the same commit skip the read.
func TxChainHead(tx *gorm.DB) (ChainHead, error) {
	l := Local(tx)
	if v, ok := l.Get(chainHeadKey); ok {
		if h, ok := v.(ChainHead); ok {
			return h, nil
		}
	}
	h, err := lockChainHead(tx.Statement.Context, tx.Statement.ConnPool.QueryRowContext, tx.Dialector.Name() == "postgres")
	if err != nil {
		return ChainHead{}, err
	}
	l.Put(chainHeadKey, h)
	return h, nil
}

// PutTxChainHead records h as the chain head for the rest of tx (it rolls
// back with a job that fails in a group commit).
func PutTxChainHead(tx *gorm.DB, h ChainHead) { Local(tx).Put(chainHeadKey, h) }

// chainHeadSQL reads the head row.
const chainHeadSQL = `SELECT seq, hash FROM audit_head WHERE id = 1`

// lockChainHead reads the head row, with FOR UPDATE on PostgreSQL.
func lockChainHead(ctx context.Context, queryRow func(ctx context.Context, query string, args ...any) *sql.Row, pg bool) (ChainHead, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	q := chainHeadSQL
	if pg {
		q += ` FOR UPDATE`
	}
	var h ChainHead
	if err := queryRow(ctx, q).Scan(&h.Seq, &h.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ChainHead{}, errors.New("audit: chain head row is missing")
		}
		return ChainHead{}, fmt.Errorf("audit: lock chain head: %w", err)
	}
	return h, nil
}
