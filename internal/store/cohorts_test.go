package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func mustCohort(t *testing.T, s *Store, c opsdojo.Cohort) opsdojo.Cohort {
	t.Helper()
	got, err := s.CreateCohort(context.Background(), c)
	if err != nil {
		t.Fatalf("CreateCohort: %v", err)
	}
	return got
}

func mustInstructor(t *testing.T, s *Store, name string) opsdojo.User {
	t.Helper()
	u := mustUser(t, s, name)
	if err := s.SetUserRole(context.Background(), u.ID, opsdojo.RoleInstructor); err != nil {
		t.Fatalf("SetUserRole: %v", err)
	}
	u.Role = opsdojo.RoleInstructor
	return u
}

// TestMigrationKeepsAdmins: a database from before roles, with an admin
// and a learner, opens with the admin an admin and the learner a learner.
func TestMigrationKeepsAdmins(t *testing.T) {
	ctx := context.Background()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if filepath.Base(name) >= "0007" {
			break
		}
		body, _ := migrations.ReadFile(name)
		if _, err := old.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES(?, 0)`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO users(id, username, password_hash, is_admin, created_at) VALUES(1, 'root', 'h', 1, 0)`,
		`INSERT INTO users(id, username, password_hash, is_admin, created_at) VALUES(2, 'kid', 'h', 0, 0)`,
		`INSERT INTO logins(token_hash, user_id, csrf_token, created_at, expires_at) VALUES('t1', 1, 'c', 0, 99999999999999)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	root, _, err := s.UserByUsername(ctx, "root")
	if err != nil || root.Role != opsdojo.RoleAdmin || !root.IsAdmin {
		t.Fatalf("old admin after migration = %+v, %v; want role admin", root, err)
	}
	kid, _, err := s.UserByUsername(ctx, "kid")
	if err != nil || kid.Role != opsdojo.RoleLearner || kid.IsAdmin {
		t.Fatalf("old learner after migration = %+v, %v; want role learner", kid, err)
	}
	// The admin's sign-in survives the migration and still says admin.
	if u, _, err := s.Login(ctx, "t1"); err != nil || u.Role != opsdojo.RoleAdmin {
		t.Fatalf("old login = %+v, %v", u, err)
	}
}

func TestRolesAndLastAdmin(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	a, err := s.CreateUser(ctx, "boss", "h", true)
	if err != nil || a.Role != opsdojo.RoleAdmin {
		t.Fatalf("CreateUser admin = %+v, %v", a, err)
	}
	l := mustUser(t, s, "learner")
	if l.Role != opsdojo.RoleLearner {
		t.Fatalf("new user role = %q", l.Role)
	}
	wantCode(t, s.SetUserRole(ctx, a.ID, opsdojo.RoleLearner), opsdojo.ECONFLICT)
	_, err = s.DisableUser(ctx, a.ID, time.Now())
	wantCode(t, err, opsdojo.ECONFLICT)
	wantCode(t, s.SetUserRole(ctx, l.ID, "root"), opsdojo.EINVALID)
	wantCode(t, s.SetUserRole(ctx, 999, opsdojo.RoleAdmin), opsdojo.ENOTFOUND)
	if err := s.SetUserRole(ctx, l.ID, opsdojo.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	// Now there are two: the first may step down.
	if err := s.SetUserRole(ctx, a.ID, opsdojo.RoleInstructor); err != nil {
		t.Fatalf("demote with another admin left: %v", err)
	}
	got, err := s.UserByID(ctx, a.ID)
	if err != nil || got.Role != opsdojo.RoleInstructor || got.IsAdmin {
		t.Fatalf("after demotion = %+v, %v", got, err)
	}
	// The command line's password reset keeps an instructor an instructor.
	if err := s.SetUserPassword(ctx, "boss", "h2", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, a.ID); got.Role != opsdojo.RoleInstructor {
		t.Fatalf("SetUserPassword changed an instructor to %q", got.Role)
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "boss" || users[1].Username != "learner" {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}
}

func TestDisableAndResetEndLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "ann")
	other := mustUser(t, s, "ben")
	exp := time.Now().Add(time.Hour)
	for _, h := range []string{"a1", "a2"} {
		if err := s.CreateLogin(ctx, u.ID, h, "c", exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateLogin(ctx, other.ID, "b1", "c", exp); err != nil {
		t.Fatal(err)
	}
	ended, err := s.ResetUserPassword(ctx, u.ID, "newhash")
	sort.Strings(ended)
	if err != nil || fmt.Sprint(ended) != "[a1 a2]" {
		t.Fatalf("ResetUserPassword ended %v, %v", ended, err)
	}
	if _, h, _ := s.UserByUsername(ctx, "ann"); h != "newhash" {
		t.Fatalf("hash = %q", h)
	}
	if err := s.CreateLogin(ctx, u.ID, "a3", "c", exp); err != nil {
		t.Fatal(err)
	}
	ended, err = s.DisableUser(ctx, u.ID, time.Now())
	if err != nil || fmt.Sprint(ended) != "[a3]" {
		t.Fatalf("DisableUser ended %v, %v", ended, err)
	}
	// A login made after the disable (a race with a sign-in) is no login.
	if err := s.CreateLogin(ctx, u.ID, "a4", "c", exp); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Login(ctx, "a4")
	wantCode(t, err, opsdojo.EUNAUTHORIZED)
	if v, _ := s.ValidLogins(ctx, []string{"a4", "b1"}); len(v) != 1 {
		t.Fatalf("ValidLogins = %v, want only b1", v)
	}
	if got, _, _ := s.UserByUsername(ctx, "ann"); !got.Disabled {
		t.Fatalf("not disabled: %+v", got)
	}
	if err := s.EnableUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Login(ctx, "a4"); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
}

func TestCohortCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	other := mustInstructor(t, s, "otto")
	learner := mustUser(t, s, "lee")
	opens := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := mustCohort(t, s, opsdojo.Cohort{Name: " Class A ", Labs: []string{"b", "a"}, Owners: []int64{ins.ID}, Seats: 3,
		OpensAt: opens, ClosesAt: opens.Add(48 * time.Hour), SessionLimit: 90 * time.Minute})
	if c.Name != "Class A" || fmt.Sprint(c.Labs) != "[b a]" || fmt.Sprint(c.Owners) != fmt.Sprint([]int64{ins.ID}) ||
		c.Seats != 3 || !c.OpensAt.Equal(opens) || c.SessionLimit != 90*time.Minute || c.HasInvite || c.Members != 0 {
		t.Fatalf("created cohort = %+v", c)
	}
	for name, bad := range map[string]opsdojo.Cohort{
		"no name":      {Name: "", Seats: 1, Owners: []int64{ins.ID}},
		"no seats":     {Name: "x", Seats: 0, Owners: []int64{ins.ID}},
		"no owner":     {Name: "x", Seats: 1},
		"learner":      {Name: "x", Seats: 1, Owners: []int64{learner.ID}},
		"window":       {Name: "x", Seats: 1, Owners: []int64{ins.ID}, OpensAt: opens, ClosesAt: opens},
		"twice":        {Name: "x", Seats: 1, Owners: []int64{ins.ID}, Labs: []string{"a", "a"}},
		"negative cap": {Name: "x", Seats: 1, Owners: []int64{ins.ID}, SessionLimit: -1},
	} {
		if _, err := s.CreateCohort(ctx, bad); opsdojo.ErrorCode(err) != opsdojo.EINVALID {
			t.Errorf("%s: CreateCohort err = %v, want invalid", name, err)
		}
	}
	c.Labs = []string{"a", "c", "b"}
	c.Owners = []int64{ins.ID, other.ID}
	c.OpensAt = time.Time{}
	if err := s.UpdateCohort(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Cohort(ctx, c.ID)
	if err != nil || fmt.Sprint(got.Labs) != "[a c b]" || len(got.Owners) != 2 || !got.OpensAt.IsZero() {
		t.Fatalf("after update = %+v, %v", got, err)
	}
	mustCohort(t, s, opsdojo.Cohort{Name: "B", Seats: 1, Owners: []int64{other.ID}})
	if mine, _ := s.CohortsOwnedBy(ctx, ins.ID); len(mine) != 1 || mine[0].ID != c.ID {
		t.Fatalf("CohortsOwnedBy(ina) = %+v", mine)
	}
	if theirs, _ := s.CohortsOwnedBy(ctx, other.ID); len(theirs) != 2 {
		t.Fatalf("CohortsOwnedBy(otto) = %d cohorts, want 2", len(theirs))
	}
	if all, _ := s.AllCohorts(ctx); len(all) != 2 {
		t.Fatalf("AllCohorts = %d", len(all))
	}
	_, err = s.Cohort(ctx, 999)
	wantCode(t, err, opsdojo.ENOTFOUND)
}

func TestCohortInvites(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	c := mustCohort(t, s, opsdojo.Cohort{Name: "A", Labs: []string{"git"}, Owners: []int64{ins.ID}, Seats: 2})
	now := time.Now()
	_, err := s.JoinCohort(ctx, "nope", ins.ID, now)
	wantCode(t, err, opsdojo.ENOTFOUND)
	if err := s.SetCohortInvite(ctx, c.ID, "h1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	u, got, err := s.CreateUserWithInvite(ctx, "h1", "newbie", "pw", now)
	if err != nil || got.ID != c.ID || got.Members != 1 || u.Role != opsdojo.RoleLearner {
		t.Fatalf("CreateUserWithInvite = %+v %+v %v", u, got, err)
	}
	if again, err := s.JoinCohort(ctx, "h1", u.ID, now); err != nil || again.Members != 1 {
		t.Fatalf("second join = %+v, %v; want a no-op", again, err)
	}
	if mine, _ := s.CohortsOfMember(ctx, u.ID); len(mine) != 1 || mine[0].ID != c.ID || fmt.Sprint(mine[0].Labs) != "[git]" {
		t.Fatalf("CohortsOfMember = %+v", mine)
	}
	// Past its expiry the link leads nowhere.
	_, err = s.JoinCohort(ctx, "h1", ins.ID, now.Add(2*time.Hour))
	wantCode(t, err, opsdojo.ENOTFOUND)
	// Regenerated: the old token stops working, the new one works.
	if err := s.SetCohortInvite(ctx, c.ID, "h2", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err = s.CohortByInvite(ctx, "h1", now)
	wantCode(t, err, opsdojo.ENOTFOUND)
	second := mustUser(t, s, "second")
	if _, err := s.JoinCohort(ctx, "h2", second.ID, now); err != nil {
		t.Fatal(err)
	}
	// Full: no account is left behind by a refused sign-up.
	_, _, err = s.CreateUserWithInvite(ctx, "h2", "third", "pw", now)
	wantCode(t, err, opsdojo.ECONFLICT)
	if _, _, err := s.UserByUsername(ctx, "third"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("a refused sign-up left an account: %v", err)
	}
	members, err := s.CohortMembers(ctx, c.ID)
	if err != nil || len(members) != 2 || members[0].Username != "newbie" || members[1].Username != "second" {
		t.Fatalf("CohortMembers = %+v, %v", members, err)
	}
	// Revoked: nobody joins.
	if err := s.RevokeCohortInvite(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Cohort(ctx, c.ID); got.HasInvite {
		t.Fatal("HasInvite after revoke")
	}
	_, err = s.CohortByInvite(ctx, "h2", now)
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, err = s.CohortByInvite(ctx, "", now)
	wantCode(t, err, opsdojo.ENOTFOUND)
}

func TestCohortWindowRefusesJoins(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	opens := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := mustCohort(t, s, opsdojo.Cohort{Name: "Later", Owners: []int64{ins.ID}, Seats: 5, OpensAt: opens, ClosesAt: opens.Add(time.Hour)})
	if err := s.SetCohortInvite(ctx, c.ID, "h", opens.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, s, "early")
	_, err := s.JoinCohort(ctx, "h", u.ID, opens.Add(-time.Minute))
	wantCode(t, err, opsdojo.EFORBIDDEN)
	_, err = s.JoinCohort(ctx, "h", u.ID, opens.Add(time.Hour))
	wantCode(t, err, opsdojo.EFORBIDDEN)
	_, _, err = s.CreateUserWithInvite(ctx, "h", "late", "pw", opens.Add(2*time.Hour))
	wantCode(t, err, opsdojo.EFORBIDDEN)
	if _, err := s.JoinCohort(ctx, "h", u.ID, opens.Add(time.Minute)); err != nil {
		t.Fatalf("join inside the window: %v", err)
	}
}

// TestCohortSeatRace: 30 sign-ups through one invite at once for 25
// seats give exactly 25 members and 25 accounts, against the real SQLite.
func TestCohortSeatRace(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ins := mustInstructor(t, s, "ina")
	c := mustCohort(t, s, opsdojo.Cohort{Name: "Big", Owners: []int64{ins.ID}, Seats: 25})
	if err := s.SetCohortInvite(ctx, c.ID, "h", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Half sign up, half are existing users joining.
	existing := make([]opsdojo.User, 15)
	for i := range existing {
		existing[i] = mustUser(t, s, fmt.Sprintf("old%02d", i))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if i < 15 {
				_, errs[i] = s.JoinCohort(ctx, "h", existing[i].ID, time.Now())
			} else {
				_, _, errs[i] = s.CreateUserWithInvite(ctx, "h", fmt.Sprintf("new%02d", i), "pw", time.Now())
			}
		}()
	}
	close(start)
	wg.Wait()
	ok, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case opsdojo.ErrorCode(err) == opsdojo.ECONFLICT:
			full++
		default:
			t.Errorf("join %d: %v", i, err)
		}
	}
	members, err := s.CohortMembers(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 25 || full != 5 || len(members) != 25 {
		t.Fatalf("%d joined, %d refused as full, %d members; want 25, 5, 25", ok, full, len(members))
	}
	users, _ := s.ListUsers(ctx)
	signedUp := 0
	for _, u := range users {
		if len(u.Username) == 5 && u.Username[:3] == "new" {
			signedUp++
		}
	}
	for i := 15; i < 30; i++ {
		if errs[i] == nil {
			signedUp--
		}
	}
	if signedUp != 0 {
		t.Fatalf("accounts of refused sign-ups were left behind (%d extra)", signedUp)
	}
}

func TestSessionDeadlineCapsExpiry(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "ann")
	now := time.Now().UTC().Truncate(time.Millisecond)
	ls := session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)
	ls.Deadline = now.Add(30 * time.Minute)
	ls.ExpiresAt = ls.Deadline
	if err := s.CreateLabSession(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchLabSession(ctx, "s1", now.Add(time.Minute), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.LabSession(ctx, "s1")
	if err != nil || !got.Deadline.Equal(ls.Deadline) || !got.ExpiresAt.Equal(ls.Deadline) {
		t.Fatalf("after touch: deadline %v expires %v (%v); want both %v", got.Deadline, got.ExpiresAt, err, ls.Deadline)
	}
	live, err := s.LiveLabSessionsOf(ctx, u.ID)
	if err != nil || len(live) != 1 {
		t.Fatalf("LiveLabSessionsOf = %v, %v", live, err)
	}
}

// BenchmarkJoinCohort is the cost of one join (an IMMEDIATE transaction:
// read the invite's cohort with its labs and owners, count, insert), the
// part of a class's sign-up that runs one at a time.
func BenchmarkJoinCohort(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ins, _ := s.CreateUser(ctx, "ina", "h", true)
	c, err := s.CreateCohort(ctx, opsdojo.Cohort{Name: "Big", Owners: []int64{ins.ID}, Seats: 100000, Labs: []string{"a", "b", "c"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.SetCohortInvite(ctx, c.ID, "h", time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	users := make([]int64, b.N)
	for i := range users {
		u, err := s.CreateUser(ctx, fmt.Sprintf("u%d", i), "h", false)
		if err != nil {
			b.Fatal(err)
		}
		users[i] = u.ID
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.JoinCohort(ctx, "h", users[i], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
