package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/opsdojo/opsdojo/internal/metrics"
)

// version and commit are set by the Makefile through -ldflags -X; a plain
// `go build` or `go install` falls back to what the toolchain recorded.
var (
	version = ""
	commit  = ""
)

// buildVersion names this build: the -ldflags values, else the module
// version and the VCS revision from the build info.
func buildVersion() metrics.Version {
	v := metrics.Version{Version: version, Commit: commit, GoVersion: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if ok {
		v.GoVersion = info.GoVersion
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit == "" && v.Commit != "" {
			v.Commit += "-dirty"
		}
	}
	if v.Version == "" {
		v.Version = "devel"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func cmdVersion(stdout io.Writer) error {
	v := buildVersion()
	_, err := fmt.Fprintf(stdout, "opsdojo %s\ncommit %s\ngo %s\n", v.Version, v.Commit, v.GoVersion)
	return err
}

// newLogger returns the process logger: text (key=value) or json, one
// record a line, for journald or a log shipper.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
