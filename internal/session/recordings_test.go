package session

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

func TestPruneRecordings(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name      string
		retention time.Duration
		wantGone  []string // recordings whose row is gone
		wantFiles []string // files still on disk
	}{
		{"keep forever", 0, nil, []string{"old", "recent", "outside"}},
		{"30 days", 30 * day, []string{"old", "outside"}, []string{"recent", "outside"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{TTL: time.Hour})
			recDir := filepath.Join(t.TempDir(), "recordings")
			e.m.SetTerminals(TerminalConfig{RecordDir: recDir, RecordingRetention: tc.retention})
			s := e.start(t, e.alice, "git")
			ctx := context.Background()
			now := e.clock.now()
			elsewhere := t.TempDir()
			files := map[string]string{
				"old":     filepath.Join(recDir, s.ID, "main-1.cast"),
				"recent":  filepath.Join(recDir, s.ID, "main-2.cast"),
				"outside": filepath.Join(elsewhere, "main-3.cast"), // the data dir moved
			}
			ended := map[string]time.Time{"old": now.Add(-40 * day), "recent": now.Add(-2 * day), "outside": now.Add(-40 * day)}
			for id, path := range files {
				if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("{}\n"), 0o640); err != nil {
					t.Fatal(err)
				}
				r := store.Recording{ID: id, SessionID: s.ID, UserID: e.alice.ID, LabID: "git", Tab: "main", Path: path, StartedAt: ended[id].Add(-time.Hour)}
				if err := e.st.CreateRecording(ctx, r); err != nil {
					t.Fatal(err)
				}
				if err := e.st.FinishRecording(ctx, id, 3, ended[id]); err != nil {
					t.Fatal(err)
				}
			}

			n, err := e.m.PruneRecordings(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.wantGone) {
				t.Errorf("pruned %d, want %d", n, len(tc.wantGone))
			}
			gone := map[string]bool{}
			for _, id := range tc.wantGone {
				gone[id] = true
			}
			for id := range files {
				_, err := e.st.Recording(ctx, id)
				if gone[id] != (err != nil) {
					t.Errorf("recording %s: row gone %v, want %v", id, err != nil, gone[id])
				}
			}
			keep := map[string]bool{}
			for _, id := range tc.wantFiles {
				keep[id] = true
			}
			for id, path := range files {
				_, err := os.Stat(path)
				if keep[id] != (err == nil) {
					t.Errorf("file of %s: exists %v, want %v", id, err == nil, keep[id])
				}
			}
		})
	}
}

// TestPruneRecordingsRemovesEmptySessionDir: the last recording of a
// session takes its directory along.
func TestPruneRecordingsRemovesEmptySessionDir(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour})
	recDir := filepath.Join(t.TempDir(), "recordings")
	e.m.SetTerminals(TerminalConfig{RecordDir: recDir, RecordingRetention: time.Hour})
	s := e.start(t, e.alice, "git")
	ctx := context.Background()
	path := filepath.Join(recDir, s.ID, "main-1.cast")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	// Never finished (the server stopped while it ran): its start counts.
	if err := e.st.CreateRecording(ctx, store.Recording{ID: "r", SessionID: s.ID, UserID: e.alice.ID, LabID: "git", Tab: "main", Path: path, StartedAt: e.clock.now().Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.m.PruneRecordings(ctx); n != 1 || err != nil {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Fatalf("session directory still there: %v", err)
	}
	if _, err := os.Stat(recDir); err != nil {
		t.Fatalf("the recordings directory itself went: %v", err)
	}
}

// TestLabWithoutRecording: a lab with record_terminals: false gets
// terminals but no recordings; other labs are recorded.
func TestLabWithoutRecording(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour})
	git, _ := testCatalog().Get("git")
	secret := *git
	secret.ID, secret.NoRecording = "secret", true
	both := labs.NewCatalog([]*labs.Lab{git, &secret})
	m := New(e.st, e.box, e.images, both, e.grader, Config{TTL: time.Hour}, slog.New(slog.DiscardHandler))
	m.SetTerminals(TerminalConfig{RecordDir: filepath.Join(t.TempDir(), "recordings")})
	for _, lab := range []string{"git", "secret"} {
		s, err := m.Start(ctx, e.alice, lab)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.OpenTerminal(ctx, e.alice, s.ID, TerminalRequest{}); err != nil {
			t.Fatalf("terminal of %s: %v", lab, err)
		}
	}
	recs, err := e.st.Recordings(ctx, store.RecordingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].LabID != "git" {
		t.Fatalf("recordings %+v, want one, of git", recs)
	}
}

// TestRecordingBudget: a learner's recordings budget starts from what
// their recordings hold (finished rows, unfinished files), is shared by
// all their terminals, is another learner's own, gets pruned recordings
// back, and a truncation is stored on the recording's row.
func TestRecordingBudget(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	e := newEnv(t, Config{TTL: time.Hour})
	recDir := filepath.Join(t.TempDir(), "recordings")
	e.m.SetTerminals(TerminalConfig{RecordDir: recDir, RecordingUserMax: 10_000, RecordingRetention: 30 * day})
	s := e.start(t, e.alice, "git")
	now := e.clock.now()
	for _, r := range []struct {
		id    string
		size  int
		ended *time.Time
	}{{"old", 3000, ptrTime(now.Add(-40 * day))}, {"recent", 2000, ptrTime(now.Add(-day))}, {"crashed", 500, nil}} {
		path := filepath.Join(recDir, s.ID, r.id+".cast")
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, make([]byte, r.size), 0o640); err != nil {
			t.Fatal(err)
		}
		started := now.Add(-time.Hour)
		if r.ended != nil {
			started = r.ended.Add(-time.Hour)
		}
		if err := e.st.CreateRecording(ctx, store.Recording{ID: r.id, SessionID: s.ID, UserID: e.alice.ID, LabID: "git", Tab: "main", Path: path, StartedAt: started}); err != nil {
			t.Fatal(err)
		}
		if r.ended != nil {
			if err := e.st.FinishRecording(ctx, r.id, int64(r.size), *r.ended); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := e.m.recordingBudget(ctx, e.alice.ID)
	if b == nil || b.Left() != 10_000-5500 {
		t.Fatalf("alice's budget: %+v", b)
	}
	if e.m.recordingBudget(ctx, e.alice.ID) != b {
		t.Fatal("two budgets for one learner")
	}
	if other := e.m.recordingBudget(ctx, e.bob.ID); other == b || other.Left() != 10_000 {
		t.Fatalf("bob's budget: %d left", other.Left())
	}
	if n, err := e.m.PruneRecordings(ctx); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if b.Left() != 10_000-2500 {
		t.Fatalf("after pruning 3000 bytes: %d left", b.Left())
	}
	e.m.recordingTruncated(s.ID, "recent", "main", terminal.BudgetReason(10_000))
	if r, err := e.st.Recording(ctx, "recent"); err != nil || r.Truncated != terminal.BudgetReason(10_000) {
		t.Fatalf("truncated recording: %+v, %v", r, err)
	}
	// Without a cap there is no budget.
	off := newEnv(t, Config{TTL: time.Hour})
	off.m.SetTerminals(TerminalConfig{RecordDir: recDir})
	if off.m.recordingBudget(ctx, off.alice.ID) != nil {
		t.Fatal("a budget without a cap")
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
