package opsdojo

import (
	"strings"
	"testing"
	"time"
)

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"admin": RoleAdmin, " Instructor ": RoleInstructor, "learner": RoleLearner} {
		if got, err := ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "root", "admins"} {
		if _, err := ParseRole(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseRole(%q) err = %v", bad, err)
		}
	}
	if !RoleAdmin.Teaches() || !RoleInstructor.Teaches() || RoleLearner.Teaches() {
		t.Fatal("Teaches")
	}
}

func TestCohortWindow(t *testing.T) {
	opens := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := Cohort{Name: "A", OpensAt: opens, ClosesAt: opens.Add(time.Hour)}
	for at, open := range map[time.Time]bool{
		opens.Add(-time.Nanosecond): false,
		opens:                       true,
		opens.Add(59 * time.Minute): true,
		opens.Add(time.Hour):        false,
	} {
		if c.OpenAt(at) != open {
			t.Errorf("OpenAt(%v) = %v", at, !open)
		}
	}
	if err := c.WindowError(opens.Add(-time.Minute), "join it"); ErrorCode(err) != EFORBIDDEN || !strings.Contains(ErrorMessage(err), "opens at 2030-01-01 09:00") {
		t.Fatalf("before: %v", err)
	}
	if err := c.WindowError(opens.Add(2*time.Hour), "join it"); !strings.Contains(ErrorMessage(err), "closed at 2030-01-01 10:00") {
		t.Fatalf("after: %v", err)
	}
	if (Cohort{}).WindowError(opens, "x") != nil {
		t.Fatal("a cohort without a window is always open")
	}
}
