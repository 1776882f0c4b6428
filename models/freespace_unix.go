//go:build unix

package models

import "golang.org/x/sys/unix"

// freeBytes returns the bytes available to this process on the file
// system holding dir; ok is false when it cannot be told.
func freeBytes(dir string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}
