//go:build !linux

package storetest

import "testing"

// SmallDisk needs Linux mounts; elsewhere the test skips.
func SmallDisk(t testing.TB, size int64) string {
	t.Skip("skipping: staging a full disk needs Linux")
	return ""
}

// FillDisk needs Linux mounts; elsewhere the test skips.
func FillDisk(t testing.TB, dir string) func() {
	t.Skip("skipping: staging a full disk needs Linux")
	return nil
}

// ReadOnlyFile needs Linux mounts; elsewhere the test skips.
func ReadOnlyFile(t testing.TB, file string) {
	t.Skip("skipping: staging a read-only file needs Linux")
}
