package session

import "syscall"

// fsUsed returns the bytes used on the filesystem holding path, and the
// device that names that filesystem.
func fsUsed(path string) (used int64, dev uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, err
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return 0, 0, err
	}
	return int64(fs.Blocks-fs.Bfree) * fs.Bsize, st.Dev, nil
}
