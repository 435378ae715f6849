package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
)

// writeWideLab writes a lab with n steps.
func writeWideLab(b testing.TB, n int) string {
	root := b.TempDir()
	dir := filepath.Join(root, "wide")
	var y strings.Builder
	y.WriteString("id: wide\ntitle: Wide lab\nsummary: Many steps.\ndifficulty: beginner\nminutes: 60\nsteps:\n")
	files := map[string]string{"image/Dockerfile": "FROM scratch\n", "checks/ok.sh": "exit 0\n", "solutions/ok.sh": "true\n"}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("steps/s%02d.md", i)] = fmt.Sprintf("# Step %d\n\nDo it.\n", i)
		fmt.Fprintf(&y, "  - id: s%02d\n    title: Step %d\n    instructions: steps/s%02d.md\n    solution: solutions/ok.sh\n    checks:\n      - id: c\n        title: check\n        kind: exec\n        script: checks/ok.sh\n        points: 2\n        hint: look again\n", i, i, i)
	}
	files["lab.yaml"] = y.String()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkBoard renders the live board of a cohort of 200 learners in a
// 20-step lab, server-side, through the real handler and SQLite: every
// learner has a session, each step 3 attempts (fail, fail, pass) or a
// fail streak, and hints.
func BenchmarkBoard(b *testing.B) {
	const learners, steps = 200, 20
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	list, problems := labs.LoadAll(writeWideLab(b, steps), nil)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	log := slog.New(slog.DiscardHandler)
	box := &fakeSandbox{}
	mgr := session.New(st, box, fakeImages{}, labs.NewCatalog(list), grading.NewRunner(log), session.Config{}, log)
	srv, err := New(Config{}, st, mgr, box, log)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.CloseWebsockets(ctx)
	teacher, err := st.CreateUser(ctx, "teacher", "x", true)
	if err != nil {
		b.Fatal(err)
	}
	cohort, err := st.CreateCohort(ctx, opsdojo.Cohort{Name: "big", Labs: []string{"wide"}, Owners: []int64{teacher.ID}, Seats: learners})
	if err != nil {
		b.Fatal(err)
	}
	invite := auth.HashToken("bench-invite")
	if err := st.SetCohortInvite(ctx, cohort.ID, invite, time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for u := 0; u < learners; u++ {
		res, err := tx.ExecContext(ctx, `INSERT INTO users(username, password_hash, role, created_at) VALUES(?, 'x', 'learner', ?)`, fmt.Sprintf("learner%03d", u), now.UnixMilli())
		if err != nil {
			b.Fatal(err)
		}
		id, _ := res.LastInsertId()
		ids = append(ids, id)
		sid := fmt.Sprintf("sess%03d", u)
		if _, err := tx.ExecContext(ctx, `INSERT INTO lab_sessions(id, user_id, lab_id, state, created_at, last_active_at, expires_at) VALUES(?, ?, 'wide', 'running', ?, ?, ?)`,
			sid, id, now.Add(-time.Hour).UnixMilli(), now.UnixMilli(), now.Add(time.Hour).UnixMilli()); err != nil {
			b.Fatal(err)
		}
		for s := 1; s <= steps; s++ {
			step := fmt.Sprintf("s%02d", s)
			passed := (u+s)%3 != 0
			for a, status := range []string{"fail", "fail", map[bool]string{true: "pass", false: "fail"}[passed]} {
				at := now.Add(time.Duration(-60+s*2+a) * time.Minute).UnixMilli()
				if _, err := tx.ExecContext(ctx, `INSERT INTO check_attempts(user_id, session_id, lab_id, step_id, status, points, max_points, result_json, log, duration_ms, created_at)
					VALUES(?, ?, 'wide', ?, ?, ?, 2, '{}', '', 10, ?)`, id, sid, step, status, map[bool]float64{true: 2}[status == "pass"], at); err != nil {
					b.Fatal(err)
				}
			}
			var first any
			if passed {
				first = now.Add(time.Duration(-58+s*2) * time.Minute).UnixMilli()
			}
			last, streak := "pass", 0
			if !passed {
				last, streak = "fail", 3
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO step_progress(user_id, lab_id, step_id, passed, attempts, first_passed_at, updated_at, best_points,
					last_status, last_attempt_at, fail_streak) VALUES(?, 'wide', ?, ?, 3, ?, ?, ?, ?, ?, ?)`,
				id, step, passed, first, now.UnixMilli(), map[bool]float64{true: 2}[passed], last, now.UnixMilli(), streak); err != nil {
				b.Fatal(err)
			}
			if s%4 == 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO hint_reveals(user_id, lab_id, step_id, hint_index, revealed_at) VALUES(?, 'wide', ?, 0, ?)`, id, step, now.UnixMilli()); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, id := range ids {
		if _, err := st.JoinCohort(ctx, invite, id, now); err != nil {
			b.Fatal(err)
		}
	}
	token, _ := auth.NewToken()
	if err := st.CreateLogin(ctx, teacher.ID, auth.HashToken(token), "csrf", now.Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/instructor/cohorts/%d", cohort.ID)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	if rec.Code != http.StatusOK {
		b.Fatalf("board: %d %s", rec.Code, rec.Body.String())
	}
	if n := strings.Count(rec.Body.String(), `<td class="cell`); n != learners*steps {
		b.Fatalf("board has %d cells, want %d", n, learners*steps)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := get(); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
	b.ReportMetric(float64(len(rec.Body.String())), "bytes/page")
}
