package doctor

import (
	"context"

	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// RealHost asks the engine, iptables and the filesystem.
type RealHost struct {
	Engine  *sandbox.Engine
	Builder *images.Builder
	Labs    []*labs.Lab
}

// Info implements Host.
func (h RealHost) Info(ctx context.Context) (sandbox.HostInfo, error) { return h.Engine.HostInfo(ctx) }

// BuildLimits implements Host.
func (h RealHost) BuildLimits(ctx context.Context) (string, string) { return h.Engine.BuildLimits(ctx) }

// Firewall implements Host.
func (h RealHost) Firewall(ctx context.Context) []sandbox.FirewallRule {
	return sandbox.HostIsolationRules(ctx)
}

// StorageSize implements Host.
func (h RealHost) StorageSize(ctx context.Context) (bool, string, error) {
	return h.Engine.StorageSizeSupport(ctx, h.Builder.Base)
}

// DiskFree implements Host.
func (h RealHost) DiskFree(path string) (uint64, uint64, error) { return diskFree(path) }

// BaseImage implements Host.
func (h RealHost) BaseImage(ctx context.Context) (string, bool, error) {
	ok, err := h.Builder.BasePresent(ctx)
	return h.Builder.Base, ok, err
}

// LabImages implements Host.
func (h RealHost) LabImages(ctx context.Context) []LabImage {
	out := make([]LabImage, 0, len(h.Labs))
	for _, l := range h.Labs {
		state, tag, err := h.Builder.LabImageState(ctx, l)
		out = append(out, LabImage{Lab: l.ID, State: state, Tag: tag, Err: err})
	}
	return out
}
