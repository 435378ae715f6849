package board

import (
	"context"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// CohortStore is what CohortAccess reads (the SQLite store provides it).
type CohortStore interface {
	Cohort(ctx context.Context, id int64) (opsdojo.Cohort, error)
	AllCohorts(ctx context.Context) ([]opsdojo.Cohort, error)
	CohortsOwnedBy(ctx context.Context, userID int64) ([]opsdojo.Cohort, error)
	CohortsOfMember(ctx context.Context, userID int64) ([]opsdojo.Cohort, error)
	CohortMembers(ctx context.Context, cohortID int64) ([]opsdojo.CohortMember, error)
}

// CohortAccess is Access by roles and cohorts: admins see everyone; an
// instructor sees the learners of the cohorts they own, and nobody else;
// learners see nothing.
type CohortAccess struct {
	Store CohortStore
	Labs  *labs.Catalog
}

// IsStaff implements Access. The user comes fresh from the store on every
// request (a login or a token lookup), so a demoted instructor's token
// stops working at once.
func (a CohortAccess) IsStaff(_ context.Context, u opsdojo.User) (bool, error) {
	return (u.IsAdmin || u.Role.Teaches()) && !u.Disabled, nil
}

func (a CohortAccess) teaches(c opsdojo.Cohort, u opsdojo.User) bool {
	return u.IsAdmin || (u.Role == opsdojo.RoleInstructor && !u.Disabled && c.OwnedBy(u.ID))
}

// Cohort implements Access.
func (a CohortAccess) Cohort(ctx context.Context, actor opsdojo.User, cohortID int64) (Scope, error) {
	c, err := a.Store.Cohort(ctx, cohortID)
	if err != nil {
		return Scope{}, err
	}
	if !a.teaches(c, actor) {
		return Scope{}, notFound()
	}
	sc := Scope{CohortID: c.ID, Title: c.Name}
	for _, id := range c.Labs {
		if l, ok := a.Labs.Get(id); ok {
			sc.Labs = append(sc.Labs, l)
		}
	}
	members, err := a.Store.CohortMembers(ctx, c.ID)
	if err != nil {
		return Scope{}, err
	}
	for _, m := range members {
		sc.Learners = append(sc.Learners, opsdojo.User{ID: m.UserID, Username: m.Username})
	}
	return sc, nil
}

// MayManage implements Access.
func (a CohortAccess) MayManage(ctx context.Context, actor opsdojo.User, learnerID, cohortID int64) (bool, error) {
	if staff, _ := a.IsStaff(ctx, actor); !staff {
		return false, nil
	}
	cohorts, err := a.Store.CohortsOfMember(ctx, learnerID)
	if err != nil {
		return false, err
	}
	for _, c := range cohorts {
		if (cohortID == 0 || c.ID == cohortID) && a.teaches(c, actor) {
			return true, nil
		}
	}
	// Admins manage everyone, in a cohort or not; a cohort named must
	// still be the learner's.
	return actor.IsAdmin && cohortID == 0, nil
}

// Teaches implements Access.
func (a CohortAccess) Teaches(ctx context.Context, actor opsdojo.User) ([]int64, error) {
	var list []opsdojo.Cohort
	var err error
	if actor.IsAdmin {
		list, err = a.Store.AllCohorts(ctx)
	} else {
		list, err = a.Store.CohortsOwnedBy(ctx, actor.ID)
	}
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids, nil
}

// Cohorts lists the cohorts actor may open boards of.
func (a CohortAccess) Cohorts(ctx context.Context, actor opsdojo.User) ([]opsdojo.Cohort, error) {
	if actor.IsAdmin {
		return a.Store.AllCohorts(ctx)
	}
	if staff, _ := a.IsStaff(ctx, actor); !staff {
		return nil, notFound()
	}
	return a.Store.CohortsOwnedBy(ctx, actor.ID)
}
