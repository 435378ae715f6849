package main

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"github.com/opsdojo/opsdojo/internal/doctor"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

func cmdDoctor(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	dataDir := fs.String("data-dir", env("OPSDOJO_DATA_DIR", "./data"), "the server's data dir (OPSDOJO_DATA_DIR)")
	labsDir := fs.String("labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders (OPSDOJO_LABS_DIR)")
	buildLimits := fs.String("build-limits", env("OPSDOJO_BUILD_LIMITS", "auto"), "as serve's --build-limits (OPSDOJO_BUILD_LIMITS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := sandbox.DefaultConfig()
	cfg.BuildLimits = *buildLimits
	engine, err := sandbox.New(cfg, log)
	if err != nil {
		return err
	}
	defer engine.Close()
	list, problems := labs.LoadAll(*labsDir, grading.NewRunner(slog.New(slog.DiscardHandler)))
	for _, p := range problems {
		log.Warn("invalid lab skipped", "problem", p.String())
	}
	host := doctor.RealHost{Engine: engine, Builder: images.New(engine.Client(), log), Labs: list}
	if doctor.Write(stdout, doctor.Run(ctx, host, doctor.Config{DataDir: *dataDir})) {
		return errChecksFailed
	}
	return nil
}
