// Package labs loads and validates lab folders: lab.yaml, step instructions,
// check scripts, solutions, the image build context and starter files.
package labs

import (
	"fmt"
	"time"
)

// Lab is a validated lab folder.
type Lab struct {
	ID         string
	Title      string
	Summary    string
	Difficulty string
	Minutes    int
	// Dir is the lab folder's absolute path.
	Dir string
	// ImageDir is the folder holding the image's Dockerfile.
	ImageDir string
	// HomeDir holds starter files copied into the learner's home; empty when none.
	HomeDir string
	// CapAdd lists the capabilities the lab adds back to its containers.
	CapAdd []string
	// CheckLib is shell code run ahead of every exec check script, for
	// helpers the checks share.
	CheckLib string
	// NoRecording keeps the lab's terminals from being recorded
	// (`record_terminals: false`).
	NoRecording bool
	// DockerCLI gives the lab's sessions a Docker socket served by their
	// own Docker API proxy (`docker_cli: true`).
	DockerCLI bool
	Steps     []Step
}

// Step is one task in a lab.
type Step struct {
	ID    string
	Title string
	// Instructions is the step's markdown source.
	Instructions string
	Hints        []string
	// Solution is the worked solution script (bash, run as the learner).
	Solution string
	Checks   []Check
}

// Check is one graded assertion of a step. Kind selects the grader; the
// fields below Kind are the arguments of the kinds that use them.
type Check struct {
	ID      string
	Title   string
	Kind    string
	Points  float64
	Hint    string
	Timeout time.Duration
	// Script is the body of an exec check's script.
	Script string
	// DependsOn lists earlier checks of the step that must pass first;
	// otherwise this one is skipped.
	DependsOn []string
	// With holds the kind's arguments as YAML; the grader of the kind
	// decodes (strictly) what it needs.
	With []byte
}

// Step returns the step with the given id.
func (l *Lab) Step(id string) (Step, bool) {
	for _, s := range l.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// StepIDs returns the ids of the lab's steps in order.
func (l *Lab) StepIDs() []string {
	ids := make([]string, len(l.Steps))
	for i, s := range l.Steps {
		ids[i] = s.ID
	}
	return ids
}

// Problem is one thing wrong with a lab folder, located at a file and line.
type Problem struct {
	File    string
	Line    int
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Message)
}

// Problems is the list of everything wrong with one or more lab folders.
type Problems []Problem

func (ps Problems) Error() string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += "\n"
		}
		s += p.String()
	}
	return s
}

// Catalog is the set of labs a server offers.
type Catalog struct {
	list []*Lab
	byID map[string]*Lab
}

// NewCatalog indexes labs by id; list order is kept.
func NewCatalog(list []*Lab) *Catalog {
	c := &Catalog{list: list, byID: make(map[string]*Lab, len(list))}
	for _, l := range list {
		c.byID[l.ID] = l
	}
	return c
}

// Get returns a lab by id.
func (c *Catalog) Get(id string) (*Lab, bool) {
	l, ok := c.byID[id]
	return l, ok
}

// All returns every lab.
func (c *Catalog) All() []*Lab { return c.list }
