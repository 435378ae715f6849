package board

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
)

// Store is what the board reads and the audit log it writes.
type Store interface {
	StepRecords(ctx context.Context, users []int64, labs []string) ([]opsdojo.StepRecord, error)
	LabActivities(ctx context.Context, users []int64, labs []string) ([]opsdojo.LabActivity, error)
	StepAttempts(ctx context.Context, userID int64, labID, stepID string, limit int) ([]store.StoredAttempt, error)
	AddAudit(ctx context.Context, e opsdojo.AuditEntry) error
	AuditEntries(ctx context.Context, f store.AuditFilter) ([]opsdojo.AuditEntry, error)
	UserByID(ctx context.Context, id int64) (opsdojo.User, error)
	LabLearners(ctx context.Context, labID string) ([]opsdojo.User, error)
}

// Sessions is the session manager's part the instructor actions use.
type Sessions interface {
	Labs() *labs.Catalog
	Session(ctx context.Context, id string) (opsdojo.LabSession, error)
	Message(ctx context.Context, id, from, text string) (int, error)
	Extend(ctx context.Context, id string, d time.Duration) (opsdojo.LabSession, error)
	Terminate(ctx context.Context, id, reason string) (opsdojo.LabSession, error)
	ResetLab(ctx context.Context, userID int64, labID string, by opsdojo.User) error
}

// Scope is what a board covers: a cohort's learners and labs, or (for
// admins) everyone who opened one lab.
type Scope struct {
	CohortID int64 // zero: a lab's board
	Title    string
	Labs     []*labs.Lab
	Learners []opsdojo.User
}

// Access decides who may see whom. Cohorts (roles, membership) live
// elsewhere; this is the board's view of them.
type Access interface {
	// Cohort returns a cohort's board scope if actor may see it (admins:
	// every cohort; instructors: their own), else ENOTFOUND.
	Cohort(ctx context.Context, actor opsdojo.User, cohortID int64) (Scope, error)
	// MayManage reports whether actor may see and act on learner: an
	// admin always; an instructor when the learner is in one of their
	// cohorts (cohortID when non-zero, which must be theirs).
	MayManage(ctx context.Context, actor opsdojo.User, learnerID, cohortID int64) (bool, error)
	// Teaches returns the cohorts actor instructs (for the audit log).
	Teaches(ctx context.Context, actor opsdojo.User) ([]int64, error)
	// IsStaff reports whether the user is an instructor or an admin now.
	IsStaff(ctx context.Context, u opsdojo.User) (bool, error)
	// Cohorts lists the cohorts actor may open boards of.
	Cohorts(ctx context.Context, actor opsdojo.User) ([]opsdojo.Cohort, error)
}

// Actor is who acts and how (browser or an API token).
type Actor struct {
	User opsdojo.User
	// Via is "browser" or "token:<id>".
	Via string
}

// Service is the instructor side: boards, exports, attempts, actions on
// learners, the audit log. Every method checks Access first: someone not
// allowed gets ENOTFOUND, as if the thing did not exist.
type Service struct {
	store    Store
	sessions Sessions
	access   Access
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the service.
func NewService(st Store, sessions Sessions, access Access, log *slog.Logger) *Service {
	return &Service{store: st, sessions: sessions, access: access, log: log, now: func() time.Time { return time.Now().UTC() }}
}

func notFound() error { return opsdojo.Errorf(opsdojo.ENOTFOUND, "not found") }

// CohortScope returns a cohort's scope for actor.
func (s *Service) CohortScope(ctx context.Context, actor opsdojo.User, cohortID int64) (Scope, error) {
	return s.access.Cohort(ctx, actor, cohortID)
}

// LabScope is the board of one lab: everyone who opened it. Admins only.
func (s *Service) LabScope(ctx context.Context, actor opsdojo.User, labID string) (Scope, error) {
	lab, ok := s.sessions.Labs().Get(labID)
	if !actor.IsAdmin || !ok {
		return Scope{}, notFound()
	}
	learners, err := s.store.LabLearners(ctx, labID)
	if err != nil {
		return Scope{}, err
	}
	return Scope{Title: lab.Title, Labs: []*labs.Lab{lab}, Learners: learners}, nil
}

// Board builds the board of a scope, of only some learners when only is
// not nil (a live update of their rows).
func (s *Service) Board(ctx context.Context, sc Scope, set Settings, only map[int64]bool) (Board, error) {
	learners := sc.Learners
	if only != nil {
		learners = nil
		for _, u := range sc.Learners {
			if only[u.ID] {
				learners = append(learners, u)
			}
		}
	}
	ids := make([]int64, len(learners))
	for i, u := range learners {
		ids[i] = u.ID
	}
	labIDs := make([]string, len(sc.Labs))
	for i, l := range sc.Labs {
		labIDs[i] = l.ID
	}
	recs, err := s.store.StepRecords(ctx, ids, labIDs)
	if err != nil {
		return Board{}, err
	}
	acts, err := s.store.LabActivities(ctx, ids, labIDs)
	if err != nil {
		return Board{}, err
	}
	return Build(sc.Labs, learners, recs, acts, set, s.now()), nil
}

// Wants reports whether an event concerns a scope's board.
func (sc Scope) Wants(userID int64, labID string) bool {
	in := false
	for _, l := range sc.Labs {
		in = in || l.ID == labID
	}
	if !in {
		return false
	}
	for _, u := range sc.Learners {
		if u.ID == userID {
			return true
		}
	}
	// A lab's board grows with each new learner: the page reloads for them.
	return sc.CohortID == 0
}

// Export returns a scope's grades and records who downloaded them.
func (s *Service) Export(ctx context.Context, a Actor, sc Scope, format string) ([]GradeRow, error) {
	b, err := s.Board(ctx, sc, Settings{StuckAfter: -1, StuckFails: -1}, nil)
	if err != nil {
		return nil, err
	}
	maxPts := map[string]float64{}
	for _, l := range sc.Labs {
		for _, st := range l.Steps {
			for _, c := range st.Checks {
				maxPts[l.ID+"/"+st.ID] += c.Points
			}
		}
	}
	rows := Grades(b, maxPts)
	lab := ""
	if sc.CohortID == 0 && len(sc.Labs) == 1 {
		lab = sc.Labs[0].ID
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditExport, CohortID: sc.CohortID, LabID: lab,
		Detail: fmt.Sprintf("%s, %d learners, %d rows", format, len(sc.Learners), len(rows))})
	return rows, nil
}

// learner checks that actor may manage learnerID (in cohortID) and
// returns the learner.
func (s *Service) learner(ctx context.Context, actor opsdojo.User, learnerID, cohortID int64) (opsdojo.User, error) {
	ok, err := s.access.MayManage(ctx, actor, learnerID, cohortID)
	if err != nil {
		return opsdojo.User{}, err
	}
	if !ok {
		return opsdojo.User{}, notFound()
	}
	return s.store.UserByID(ctx, learnerID)
}

// session returns a session whose learner actor may manage.
func (s *Service) session(ctx context.Context, actor opsdojo.User, id string, cohortID int64) (opsdojo.LabSession, opsdojo.User, error) {
	sess, err := s.sessions.Session(ctx, id)
	if err != nil {
		return sess, opsdojo.User{}, err
	}
	u, err := s.learner(ctx, actor, sess.UserID, cohortID)
	if err != nil {
		return opsdojo.LabSession{}, u, err
	}
	return sess, u, nil
}

// Attempts returns a learner's attempts at a step with what they saw.
func (s *Service) Attempts(ctx context.Context, actor opsdojo.User, learnerID, cohortID int64, labID, stepID string) (opsdojo.User, []store.StoredAttempt, error) {
	u, err := s.learner(ctx, actor, learnerID, cohortID)
	if err != nil {
		return u, nil, err
	}
	lab, ok := s.sessions.Labs().Get(labID)
	if !ok {
		return u, nil, notFound()
	}
	if _, ok := lab.Step(stepID); !ok {
		return u, nil, notFound()
	}
	list, err := s.store.StepAttempts(ctx, learnerID, labID, stepID, 100)
	return u, list, err
}

// Watch checks that actor may watch the session's terminals and records
// it. The learner watching their own session is not audited.
func (s *Service) Watch(ctx context.Context, a Actor, sessionID, tab string) error {
	sess, err := s.sessions.Session(ctx, sessionID)
	if err != nil {
		return err
	}
	if sess.UserID == a.User.ID {
		return nil
	}
	u, err := s.learner(ctx, a.User, sess.UserID, 0)
	if err != nil {
		return err
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditWatch, TargetUserID: u.ID, TargetName: u.Username, LabID: sess.LabID,
		SessionID: sess.ID, Detail: "tab " + tab})
	return nil
}

// Message shows text beside the learner's terminals.
func (s *Service) Message(ctx context.Context, a Actor, sessionID string, cohortID int64, text string) (int, error) {
	sess, u, err := s.session(ctx, a.User, sessionID, cohortID)
	if err != nil {
		return 0, err
	}
	n, err := s.sessions.Message(ctx, sessionID, a.User.Username, text)
	if err != nil {
		return 0, err
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditMessage, TargetUserID: u.ID, TargetName: u.Username, CohortID: cohortID,
		LabID: sess.LabID, SessionID: sess.ID, Detail: fmt.Sprintf("%q (%d terminals open)", strings.TrimSpace(text), n)})
	return n, nil
}

// Extend gives the learner's session more time.
func (s *Service) Extend(ctx context.Context, a Actor, sessionID string, cohortID int64, d time.Duration) (opsdojo.LabSession, error) {
	sess, u, err := s.session(ctx, a.User, sessionID, cohortID)
	if err != nil {
		return sess, err
	}
	out, err := s.sessions.Extend(ctx, sessionID, d)
	if err != nil {
		return out, err
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditExtend, TargetUserID: u.ID, TargetName: u.Username, CohortID: cohortID,
		LabID: sess.LabID, SessionID: sess.ID, Detail: fmt.Sprintf("+%s, now expires %s", d, out.ExpiresAt.Format(time.RFC3339))})
	return out, nil
}

// End ends the learner's session.
func (s *Service) End(ctx context.Context, a Actor, sessionID string, cohortID int64) (opsdojo.LabSession, error) {
	sess, u, err := s.session(ctx, a.User, sessionID, cohortID)
	if err != nil {
		return sess, err
	}
	out, err := s.sessions.Terminate(ctx, sessionID, "ended by "+a.User.Username)
	if err != nil {
		return out, err
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditEnd, TargetUserID: u.ID, TargetName: u.Username, CohortID: cohortID,
		LabID: sess.LabID, SessionID: sess.ID})
	return out, nil
}

// Reset ends the learner's session of the lab and clears their progress
// in it; confirm must repeat the lab id (the UI asks first). Attempts stay.
func (s *Service) Reset(ctx context.Context, a Actor, learnerID, cohortID int64, labID, confirm string) error {
	u, err := s.learner(ctx, a.User, learnerID, cohortID)
	if err != nil {
		return err
	}
	if confirm != labID {
		return opsdojo.Errorf(opsdojo.EINVALID, "a reset clears the learner's progress in %s: confirm by sending {\"confirm\": %q}", labID, labID)
	}
	if err := s.sessions.ResetLab(ctx, learnerID, labID, a.User); err != nil {
		return err
	}
	s.audit(ctx, a, opsdojo.AuditEntry{Action: opsdojo.AuditReset, TargetUserID: u.ID, TargetName: u.Username, CohortID: cohortID, LabID: labID,
		Detail: "progress cleared; attempts kept"})
	return nil
}

// Audit records a token's creation or revocation, or another action the
// web layer performs itself.
func (s *Service) Audit(ctx context.Context, a Actor, e opsdojo.AuditEntry) { s.audit(ctx, a, e) }

func (s *Service) audit(ctx context.Context, a Actor, e opsdojo.AuditEntry) {
	e.At, e.ActorID, e.ActorName, e.Via = s.now(), a.User.ID, a.User.Username, a.Via
	if e.Via == "" {
		e.Via = "browser"
	}
	// The action has happened: a failed audit write is logged loudly, not
	// turned into an error the instructor would retry.
	if err := s.store.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit log write failed", "action", e.Action, "actor", e.ActorID, "target", e.TargetUserID, "err", err)
	}
}

// AuditLog returns the entries actor may read: every entry for admins;
// for instructors those of their cohorts and their own actions.
func (s *Service) AuditLog(ctx context.Context, actor opsdojo.User, before int64) ([]opsdojo.AuditEntry, error) {
	if actor.IsAdmin {
		return s.store.AuditEntries(ctx, store.AuditFilter{All: true, Before: before})
	}
	staff, err := s.access.IsStaff(ctx, actor)
	if err != nil {
		return nil, err
	}
	if !staff {
		return nil, notFound()
	}
	cohorts, err := s.access.Teaches(ctx, actor)
	if err != nil {
		return nil, err
	}
	return s.store.AuditEntries(ctx, store.AuditFilter{CohortIDs: cohorts, ActorID: actor.ID, Before: before})
}

// Cohorts lists the cohorts actor may open boards of.
func (s *Service) Cohorts(ctx context.Context, actor opsdojo.User) ([]opsdojo.Cohort, error) {
	return s.access.Cohorts(ctx, actor)
}

// MayWatch reports whether actor may watch the session's terminals
// without owning it (Watch records it; the websocket only asks).
func (s *Service) MayWatch(ctx context.Context, actor opsdojo.User, sessionID string) (bool, error) {
	sess, err := s.sessions.Session(ctx, sessionID)
	if err != nil {
		return false, err
	}
	return s.access.MayManage(ctx, actor, sess.UserID, 0)
}

// IsStaff reports whether u is an instructor or admin now.
func (s *Service) IsStaff(ctx context.Context, u opsdojo.User) (bool, error) {
	return s.access.IsStaff(ctx, u)
}
