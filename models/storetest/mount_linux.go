//go:build linux

package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Mounting needs root (CAP_SYS_ADMIN). Outside CI a test that cannot
// mount skips and says why; in CI (CI=true, where .ci/run runs as root) it
// fails instead, so the faults these mounts stage are always tested there.
func needMount(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s: %v (needs root with CAP_SYS_ADMIN)", what, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("skipping: " + msg)
}

// SmallDisk mounts a tmpfs of size bytes on a fresh directory and returns
// it, unmounted when t ends: a disk that a test can fill up.
func SmallDisk(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		needMount(t, "mount a small tmpfs", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// FillDisk writes a file into dir until the disk is full (ENOSPC) and
// returns a function that deletes it again.
func FillDisk(t testing.TB, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errorsIsNoSpace(err) {
				t.Fatalf("fill disk: %v", err)
			}
			break
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

func errorsIsNoSpace(err error) bool {
	pe, ok := err.(*os.PathError)
	return ok && pe.Err == syscall.ENOSPC
}

// ReadOnlyFile makes file read-only for everyone, root included, until t
// ends, by bind-mounting it read-only onto itself: the directory stays
// writable, as when an operator's file permissions or a read-only volume
// keep the database itself from being written.
func ReadOnlyFile(t testing.TB, file string) {
	t.Helper()
	if err := syscall.Mount(file, file, "", syscall.MS_BIND, ""); err != nil {
		needMount(t, "bind-mount "+file, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(file, syscall.MNT_DETACH) })
	if err := syscall.Mount("", file, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		needMount(t, "remount "+file+" read-only", err)
	}
}
