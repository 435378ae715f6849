package app

import (
	"context"
	"errors"
	"io"
)

// The session manager finds some of the engine's abilities by type
// assertion (saved homes, the learners' docker CLI containers in the disk
// quota). Embedding the session.Sandbox interface in observedSandbox hides
// them, so they are passed through here.

type learnerContainersUsage interface {
	LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error)
}

// LearnerContainersUsage counts the writable layers of the containers a
// session's learner ran with their docker CLI (internal/dockerproxy).
func (o observedSandbox) LearnerContainersUsage(ctx context.Context, sessionID string) (int64, error) {
	if lc, ok := o.Sandbox.(learnerContainersUsage); ok {
		return lc.LearnerContainersUsage(ctx, sessionID)
	}
	return 0, nil
}

type homeSandbox interface {
	ExportHome(ctx context.Context, containerID string) (io.ReadCloser, error)
	ImportHome(ctx context.Context, containerID string, r io.Reader) error
}

var errNoHomes = errors.New("this engine cannot read or write home folders")

// ExportHome passes saved homes through (session.HomeSandbox).
func (o observedSandbox) ExportHome(ctx context.Context, containerID string) (io.ReadCloser, error) {
	if h, ok := o.Sandbox.(homeSandbox); ok {
		return h.ExportHome(ctx, containerID)
	}
	return nil, errNoHomes
}

// ImportHome passes saved homes through (session.HomeSandbox).
func (o observedSandbox) ImportHome(ctx context.Context, containerID string, r io.Reader) error {
	if h, ok := o.Sandbox.(homeSandbox); ok {
		return h.ImportHome(ctx, containerID, r)
	}
	return errNoHomes
}
