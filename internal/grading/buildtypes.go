package grading

import (
	"io"
	"time"
)

// BuildRequest is a learner's image build.
type BuildRequest struct {
	// Context is a tar stream of the build context.
	Context io.Reader
	// Dockerfile is the Dockerfile's path inside the context.
	Dockerfile string
	// Tag names the image; the engine removes it after the check.
	Tag     string
	Session string
	// Log receives the build output as it is produced.
	Log io.Writer
	// Bases are the images the Dockerfile starts from (FROM, COPY
	// --from), for the engine to vet before it builds anything.
	Bases []BaseImage
}

// BuildResult is a finished build.
type BuildResult struct {
	ImageID string
	Size    int64
	// Failed is set when the Dockerfile did not build; Step is the 1-based
	// instruction that failed (0 when unknown) and Error the engine's word.
	Failed bool
	Step   int
	Error  string
	// Refused is set when the engine would not build at all (a base
	// image the learner may not use); Line is the Dockerfile line and
	// Error says why.
	Refused bool
	Line    int
	// Images lists every image the build made (each step's, every stage's),
	// for cleanup.
	Images []string
}

// ProbeRequest runs a built image briefly and observes it.
type ProbeRequest struct {
	Image   string
	Session string
	// Port and Path, when Port is set: probe http://container:Port/Path
	// until it answers 2xx or Within passes.
	Port   int
	Path   string
	Within time.Duration
	// WaitHealthy waits (within Within) for the image's HEALTHCHECK to
	// report healthy.
	WaitHealthy bool
}

// ProbeResult is what the probe saw.
type ProbeResult struct {
	// UID of the container's main process; -1 when it could not be read.
	UID int
	// Running is false when the container exited during the probe.
	Running  bool
	ExitCode int
	// HTTPStatus of the first answer (0: none within Within).
	HTTPStatus int
	HTTPAfter  time.Duration
	// Health is the HEALTHCHECK status seen last ("" when the image has
	// none).
	Health string
	// Logs is the tail of the container's output.
	Logs string
}
