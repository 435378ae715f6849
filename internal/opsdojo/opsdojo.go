package opsdojo

import "time"

// User is a person who signs in: a learner, an instructor or an admin.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	// Role decides what the user may do (cohorts.go).
	Role Role `json:"role"`
	// IsAdmin is Role == RoleAdmin, kept as a field for the code that asks
	// only that; the store sets both.
	IsAdmin bool `json:"is_admin"`
	// Disabled users cannot sign in.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// SessionState is where a lab session is in its life.
type SessionState string

const (
	// SessionStarting: the row exists, the container is being created.
	SessionStarting SessionState = "starting"
	// SessionRunning: the container is up and answers execs.
	SessionRunning SessionState = "running"
	// SessionEnded: the learner ended it or it failed to start.
	SessionEnded SessionState = "ended"
	// SessionExpired: the reaper removed it after its TTL.
	SessionExpired SessionState = "expired"
	// SessionLost: the container vanished behind the server's back.
	SessionLost SessionState = "lost"
)

// Live reports whether a session in this state owns a container.
func (s SessionState) Live() bool { return s == SessionStarting || s == SessionRunning }

// LabSession is one learner's container for one lab.
type LabSession struct {
	ID           string       `json:"id"`
	UserID       int64        `json:"-"`
	LabID        string       `json:"lab"`
	ContainerID  string       `json:"-"`
	NetworkID    string       `json:"-"`
	State        SessionState `json:"state"`
	CreatedAt    time.Time    `json:"created_at"`
	LastActiveAt time.Time    `json:"last_active_at"`
	ExpiresAt    time.Time    `json:"expires_at"`
	// EndReason says why the server ended the session, for the learner
	// (empty when they ended it or it expired).
	EndReason string `json:"end_reason,omitempty"`
	// Deadline, when set, is when the session ends whatever the activity
	// (a cohort's session time limit); ExpiresAt never passes it.
	Deadline time.Time `json:"deadline,omitzero"`
}

// CheckStatus is the outcome of one check.
type CheckStatus string

const (
	StatusPass CheckStatus = "pass"
	StatusFail CheckStatus = "fail"
	// StatusError means the grader broke; it is never charged to the learner.
	StatusError CheckStatus = "error"
	// StatusSkipped means a check this one depends on did not pass.
	StatusSkipped CheckStatus = "skipped"
)

// CheckResult is what one check found.
type CheckResult struct {
	CheckID  string      `json:"id"`
	Title    string      `json:"title"`
	Kind     string      `json:"kind"`
	Status   CheckStatus `json:"status"`
	Messages []string    `json:"messages"`
	Hints    []string    `json:"hints"`
	// Findings locate problems in the learner's files.
	Findings []Finding `json:"findings"`
	// Tests compare what a hidden test expected with what happened (rule
	// unit tests, probes of a built image).
	Tests []TestResult `json:"tests,omitempty"`
	// BuildLog is the output of a build the check ran, for the learner.
	BuildLog string  `json:"build_log,omitempty"`
	Points   float64 `json:"points"`
	Max      float64 `json:"max_points"`
	// Scored is set by a grader that computed Points itself (partial
	// credit); otherwise a pass earns the check's full points.
	Scored   bool          `json:"-"`
	Duration time.Duration `json:"duration_ns"`
	// Log is everything the check printed that is not for the learner; only
	// instructors and admins see it.
	Log string `json:"-"`
}

// Finding is one problem at a place in a learner's file.
type Finding struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// TestResult is one hidden test: what was expected, what happened.
type TestResult struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
}

// StepResult rolls up the checks of one step.
type StepResult struct {
	StepID   string        `json:"step"`
	Status   CheckStatus   `json:"status"`
	Checks   []CheckResult `json:"checks"`
	Points   float64       `json:"points"`
	Max      float64       `json:"max_points"`
	Duration time.Duration `json:"duration_ns"`
}

// Messages collects the learner-facing messages of every check, each once.
func (r StepResult) Messages() []string {
	var out []string
	for _, c := range r.Checks {
		out = appendNew(out, c.Messages...)
	}
	return out
}

// Hints collects the hints of every check that did not pass, each once.
func (r StepResult) Hints() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status != StatusPass {
			out = appendNew(out, c.Hints...)
		}
	}
	return out
}

// appendNew appends the items of add not already in list: checks of one
// step often fail for the same reason and say so in the same words.
func appendNew(list []string, add ...string) []string {
next:
	for _, a := range add {
		for _, l := range list {
			if l == a {
				continue next
			}
		}
		list = append(list, a)
	}
	return list
}

// Progress is how far a learner is in a lab.
type Progress struct {
	Passed map[string]bool `json:"passed"` // step id → passed at least once
	// Points is the best score of each step's attempts.
	Points map[string]float64 `json:"points"`
	// HintsShown counts the hints of each step the learner asked for.
	HintsShown map[string]int `json:"hints_shown"`
	// CheckHints lists, per step, the positions (0-based, in the step's
	// check order) of the checks whose hint the learner asked for.
	CheckHints map[string][]int `json:"check_hints"`
}

// HintsUsed counts every hint the learner asked for in the lab: the
// steps' hints and the checks' hints.
func (p Progress) HintsUsed() int {
	n := 0
	for _, k := range p.HintsShown {
		n += k
	}
	for _, l := range p.CheckHints {
		n += len(l)
	}
	return n
}

// CheckHintShown reports whether the learner asked for the hint of the
// check at position pos of a step.
func (p Progress) CheckHintShown(step string, pos int) bool {
	for _, i := range p.CheckHints[step] {
		if i == pos {
			return true
		}
	}
	return false
}

// Score sums the best points of steps.
func (p Progress) Score(steps []string) float64 {
	total := 0.0
	for _, s := range steps {
		total += p.Points[s]
	}
	return total
}

// Count returns how many of steps are passed.
func (p Progress) Count(steps []string) int {
	n := 0
	for _, s := range steps {
		if p.Passed[s] {
			n++
		}
	}
	return n
}

// Attempt is one press of a step's Check button and what it found.
type Attempt struct {
	UserID    int64
	SessionID string
	LabID     string
	Result    StepResult
	At        time.Time
}
