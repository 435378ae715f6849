//go:build integration

package integration

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsdojo/opsdojo/internal/homes"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// BenchmarkHomeSaveRestore measures saving a 100 MiB home (half random
// bytes, half text) through the archive API into a tar.gz on disk, and
// restoring it into a fresh container: what a learner's End and next
// Start add. Run with -benchtime=3x.
func BenchmarkHomeSaveRestore(b *testing.B) {
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "bench-homes"
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(); cleanupByLabel(nil, sandbox.LabelInstance+"=bench-homes") })
	ctx := context.Background()
	tag, err := images.New(eng.Client(), slog.New(slog.DiscardHandler)).Tag(ctx, lab)
	if err != nil {
		b.Fatal(err)
	}
	src, err := eng.Create(ctx, sandbox.Spec{SessionID: "bhsrc00000000000", UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
	if err != nil {
		b.Fatal(err)
	}
	res, err := eng.Exec(ctx, src.ContainerID, sandbox.ExecRequest{User: sandbox.LearnerUser, Cmd: []string{"bash", "-c",
		"mkdir -p ~/data && head -c 50M /dev/urandom > ~/data/random && yes 'a log line of some length 0123456789' | head -c 50M > ~/data/text"}})
	if err != nil || res.ExitCode != 0 {
		b.Fatalf("fill home: %v %s", err, res.Stderr)
	}
	dst, err := eng.Create(ctx, sandbox.Spec{SessionID: "bhdst00000000000", UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
	if err != nil {
		b.Fatal(err)
	}
	dir := homes.Dir{Root: b.TempDir()}
	lim := homes.DefaultLimits()
	b.Run("save", func(b *testing.B) {
		b.SetBytes(100 << 20)
		for b.Loop() {
			_, err := dir.Write(1, lab.ID, func(w io.Writer) error {
				rc, err := eng.ExportHome(ctx, src.ContainerID)
				if err != nil {
					return err
				}
				defer rc.Close()
				_, err = homes.Pack(w, rc, lim)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(100 << 20)
		for b.Loop() {
			f, err := dir.Open(1, lab.ID)
			if err != nil {
				b.Fatal(err)
			}
			pr, pw := io.Pipe()
			go func() { _, err := homes.Restore(pw, f, lim); pw.CloseWithError(err) }()
			err = eng.ImportHome(ctx, dst.ContainerID, pr)
			pr.Close()
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	if p, err := dir.Path(1, lab.ID); err == nil {
		if st, err := os.Stat(p); err == nil {
			b.Logf("saved home: %d bytes on disk for 100 MiB of files", st.Size())
		}
	}
}
