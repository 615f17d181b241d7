//go:build !linux

package tokens

import (
	"os"
	"syscall"
)

// stampOf returns the stamp of the file at path: its device and inode.
func stampOf(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStamp{}, false
	}
	return fileStamp{Dev: uint64(sys.Dev), Ino: uint64(sys.Ino)}, true
}
