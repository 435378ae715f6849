//go:build integration

package integration

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

func benchEngine(b *testing.B) (*sandbox.Engine, *labs.Lab, string) {
	b.Helper()
	lab, problems := labs.Load(filepath.Join(repoRoot, "labs", "git-basics"), nil)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "bench"
	eng, err := sandbox.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close(); cleanupByLabel(nil, sandbox.LabelInstance+"=bench") })
	tag, err := images.New(eng.Client(), slog.New(slog.DiscardHandler)).Tag(context.Background(), lab)
	if err != nil {
		b.Fatal(err)
	}
	return eng, lab, tag
}

// BenchmarkSessionStart measures what a learner waits for on a cold lab
// start, server side: network, container, starter files, start, and the
// first shell exec answering. Run with -benchtime=10x.
func BenchmarkSessionStart(b *testing.B) {
	eng, lab, tag := benchEngine(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("bench%011d", i)
		box, err := eng.Create(ctx, sandbox.Spec{SessionID: id, UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := eng.Remove(ctx, box); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkExecCheck measures one Check press of git-basics' first step
// (two exec checks) against a running container.
func BenchmarkExecCheck(b *testing.B) {
	eng, lab, tag := benchEngine(b)
	ctx := context.Background()
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: "benchcheck000000", UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Remove(ctx, box)
	runner := grading.NewRunner(slog.New(slog.DiscardHandler))
	step, _ := lab.Step("init")
	c := benchContainer{eng: eng, id: box.ContainerID}
	for b.Loop() {
		res := runner.RunStep(ctx, lab, step, grading.Target{Container: c})
		if res.Status != "fail" {
			b.Fatalf("status %s, want fail on the starter files", res.Status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/check")
}

type benchContainer struct {
	eng *sandbox.Engine
	id  string
}

func (c benchContainer) Run(ctx context.Context, cmd grading.Command) (grading.Output, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, err := c.eng.Exec(ctx, c.id, sandbox.ExecRequest{Cmd: cmd.Argv, User: cmd.User, Env: cmd.Env, Stdin: cmd.Stdin})
	return grading.Output{ExitCode: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}, err
}

// BenchmarkDiskUsage measures one disk-quota reading of a session: the
// engine walks the container's writable layer, here with 5,000 files in
// the learner's home (a Go module cache is of that order).
func BenchmarkDiskUsage(b *testing.B) {
	eng, lab, tag := benchEngine(b)
	ctx := context.Background()
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: "benchdisk0000000", UserID: 1, LabID: lab.ID, Image: tag, HomeDir: lab.HomeDir})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Remove(ctx, box)
	res, err := eng.Exec(ctx, box.ContainerID, sandbox.ExecRequest{Cmd: []string{"bash", "-c", "mkdir -p ~/many && cd ~/many && for i in $(seq 5000); do echo $i > f$i; done"}, User: sandbox.LearnerUser})
	if err != nil || res.ExitCode != 0 {
		b.Fatalf("writing files: %v %s", err, res.Stderr)
	}
	var used int64
	for b.Loop() {
		if used, err = eng.DiskUsage(ctx, box.ContainerID); err != nil {
			b.Fatal(err)
		}
	}
	if used < 5000*2 {
		b.Fatalf("disk usage %d bytes for 5000 files", used)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/reading")
}
