package sqlitedb

import "fmt"

// PoolSize is how many connections the store opens to one SQLite file.
const PoolSize = 8

// CacheBudgetKiB is the page cache SQLite may keep for one database, in
// KiB, however many connections the pool has.
//
// This build of SQLite (modernc.org/sqlite, compiled with
// SQLITE_ENABLE_MEMORY_MANAGEMENT) keeps the page caches of all
// connections in one group: the group holds at most the sum of the
// connections' cache_size, and when a connection needs a page beyond its
// own share it recycles the least recently used page of the whole group,
// which is usually one of an idle connection. So each connection's
// cache_size is the budget divided by the pool, and the budget, not the
// pool, bounds the memory; the connections that are busy hold most of it.
// Each connection still keeps its own copy of a page, so the budget is
// what several concurrent searches share.
//
// 32 MiB (4 MiB a connection with the pool of 8; it was 8 MiB a
// connection, 64 MiB in all): with 8 clients searching a 1,000,000-event
// log the server's resident memory was 95-113 MB against 170-175 MB with
// 64 MiB, and its CPU per search did not measurably change (21-34 ms
// against 27-31 ms on the busy machine; docs/BENCHMARKS.md, "Scale
// (issue 16)"): what a search reads beyond the hot index pages is spread
// over the whole file and misses a cache of either size.
//
// Memory-mapped I/O stays off: each connection would map the file again,
// and every page a connection touched through its mapping counts in the
// process's resident memory once per connection (5.9 GB at 1,000,000
// events, docs/BENCHMARKS.md).
const CacheBudgetKiB = 32 << 10

// DSN returns the modernc.org/sqlite data source for the database file at
// path with the pragmas Countersign relies on: WAL, durable commits
// (synchronous=FULL: an acknowledged change survives power loss), foreign
// keys, a busy timeout for other processes, BEGIN IMMEDIATE so a write
// transaction never has to upgrade its lock halfway, no memory-mapped I/O
// and each of pool connections' share of CacheBudgetKiB.
func DSN(path string, pool int) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)" +
		"&_pragma=mmap_size(0)&_pragma=" + fmt.Sprintf("cache_size(%d)", CacheSizeKiB(CacheBudgetKiB, pool)) + "&_pragma=temp_store(MEMORY)&_txlock=immediate"
}

// CacheSizeKiB is the cache_size pragma (negative: in KiB) that gives each
// of pool connections an equal share of budgetKiB, at least 1 MiB.
func CacheSizeKiB(budgetKiB, pool int) int {
	share := budgetKiB / max(pool, 1)
	return -max(share, 1024)
}
