//go:build !linux

package tokens

// stampOf returns the stamp of the file at path: its device and inode.
func stampOf(path string) (fileStamp, bool) { return statStamp(path) }
