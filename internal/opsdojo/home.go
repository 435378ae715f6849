package opsdojo

import "time"

// HomeOutcome is how an attempt to save a learner's home ended.
type HomeOutcome string

const (
	// HomeSaved: the home was saved whole; it replaced the previous save.
	HomeSaved HomeOutcome = "saved"
	// HomeRefused: the home was over the size limits; nothing was saved
	// and the previous save (if any) is kept. Never a partial archive.
	HomeRefused HomeOutcome = "refused"
	// HomeFailed: the engine or the disk failed; the previous save is kept.
	HomeFailed HomeOutcome = "failed"
)

// HomeSave is one save of a learner's home folder for a lab: the current
// save (Outcome HomeSaved) or an attempt.
type HomeSave struct {
	UserID    int64       `json:"-"`
	LabID     string      `json:"lab"`
	SessionID string      `json:"session"`
	At        time.Time   `json:"at"`
	Outcome   HomeOutcome `json:"outcome"`
	// Bytes is the size of the tar.gz; Content the files in it.
	Bytes   int64 `json:"bytes"`
	Content int64 `json:"content_bytes"`
	Files   int   `json:"files"`
	// Skipped counts entries left out: devices, fifos, sockets, links
	// that would lead out of the home.
	Skipped int `json:"skipped"`
	// Reason says why a save was refused or failed, for the learner.
	Reason string `json:"reason,omitempty"`
}
