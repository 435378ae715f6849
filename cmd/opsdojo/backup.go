package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/opsdojo/opsdojo/internal/backup"
)

func cmdBackup(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	to := fs.String("to", "", "the backup file to write (tar.gz); it holds password hashes and recordings: keep it secret")
	dataDir := fs.String("data-dir", env("OPSDOJO_DATA_DIR", "./data"), "the data dir to back up (OPSDOJO_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" || fs.NArg() > 0 {
		return errors.New("usage: opsdojo backup --to FILE [--data-dir D]")
	}
	// Written beside the target and renamed when complete, so a failed
	// backup never leaves a file that looks whole.
	tmp, err := os.CreateTemp(filepath.Dir(*to), ".opsdojo-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("backup: %w", err)
	}
	sum, err := backup.Create(ctx, *dataDir, buildVersion().Version, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *to); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	log.Debug("backup written", "file", *to)
	fmt.Fprintf(stdout, "backup %s: database (%d users, %d sessions, %d attempts, %d recordings) and %d files, %d bytes\n",
		*to, sum.DB.Users, sum.DB.Sessions, sum.DB.Attempts, sum.DB.Recordings, sum.Files, sum.Bytes)
	return nil
}

func cmdRestore(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "the backup file to restore (written by opsdojo backup)")
	dataDir := fs.String("data-dir", env("OPSDOJO_DATA_DIR", "./data"), "the data dir to restore into; stop the server first (OPSDOJO_DATA_DIR)")
	force := fs.Bool("force", false, "restore into a data dir that is not empty: its database is replaced, files of the same name overwritten")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || fs.NArg() > 0 {
		return errors.New("usage: opsdojo restore --from FILE [--data-dir D] [--force]")
	}
	f, err := os.Open(*from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	sum, err := backup.Restore(ctx, f, *dataDir, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored into %s: database (%d users, %d sessions, %d attempts, %d recordings) and %d files, %d bytes\n",
		*dataDir, sum.DB.Users, sum.DB.Sessions, sum.DB.Attempts, sum.DB.Recordings, sum.Files, sum.Bytes)
	return nil
}
