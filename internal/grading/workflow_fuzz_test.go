package grading_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

var wfAssertRules = map[string]bool{
	"missing": true, "yaml": true, "triggers": true, "jobs": true, "needs": true, "main-only": true,
	"environment": true, "matrix": true, "pinned-actions": true, "cache": true, "permissions": true, "runs": true,
}

// FuzzWorkflow: whatever the learner writes, the checker does not panic,
// does not call it a grader error, answers in time, and reports findings
// that point into the file.
func FuzzWorkflow(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "workflow", "*.yml"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed workflows: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("on: push\njobs:\n  a: &a\n    runs-on: ubuntu-latest\n    steps: [{run: x}]\n  b: *a\n"))
	f.Add([]byte("on: [push]\njobs: {t: {runs-on: x, steps: [{uses: a/b@main}], if: \"${{ github.ref == 'refs/heads/main' }}\"}}"))
	f.Add([]byte(""))
	f.Add([]byte("on: push\njobs:\n  t:\n    runs-on: x\n    strategy:\n      matrix:\n        a: &a [1, 2]\n        b: &b [*a, *a, *a]\n        c: [*b, *b, *b]\n    steps: [{run: x}]\n"))
	f.Add([]byte("on: push\njobs: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n"))
	f.Add([]byte("on: push\njobs:\n  test:\n    runs-on: x\n    continue-on-error: ${{ matrix.x }}\n    strategy:\n      matrix:\n        os: [a, b]\n        go-version: ['1.22', '${{ vars.V }}']\n        exclude: [{os: a, go-version: '1.22'}]\n        include: [{go-version: '1.23'}, {os: c, x: true}, {os: a, go-version: 1.20}]\n    steps: [{run: go test}]\n  deploy:\n    needs: test\n    if: always() && !(github.ref != 'refs/heads/main') || startsWith(github.ref_name, 'main')\n    runs-on: x\n    steps: [{run: x, if: \"github.ref == 'main'\"}]\n"))
	f.Add([]byte("on:\r\n  pull_request:\r\njobs:\r\n  t:\r\n    runs-on: ubuntu-latest\r\n    steps:\r\n      - run: go test\r\n"))
	chk := labs.Check{ID: "ci", Kind: "workflow", Points: 1, With: []byte(allAsserts)}
	f.Fuzz(func(t *testing.T, src []byte) {
		// The fuzzer has no per-input timeout: a hang would go unnoticed.
		// Crashing the worker makes it keep the input.
		stuck := time.AfterFunc(60*time.Second, func() {
			panic(fmt.Sprintf("a workflow check of %d bytes is still running after 60s", len(src)))
		})
		defer stuck.Stop()
		cr := grading.WorkflowChecker{}.Check(context.Background(), grading.Input{
			Lab: &labs.Lab{ID: "ci-pipeline"}, Check: chk, Files: &memFiles{files: map[string][]byte{wfPath: src}},
		})
		switch cr.Status {
		case opsdojo.StatusPass, opsdojo.StatusFail:
		default:
			t.Fatalf("status %s: %q\n%s", cr.Status, cr.Messages, cr.Log)
		}
		if len(cr.Messages) != 1 || cr.Messages[0] == "" {
			t.Fatalf("messages %q: want one summary", cr.Messages)
		}
		if (cr.Status == opsdojo.StatusPass) != (len(cr.Findings) == 0) {
			t.Fatalf("status %s with %d findings", cr.Status, len(cr.Findings))
		}
		lines := yamlLines(src)
		for _, f := range cr.Findings {
			if f.File != wfPath || f.Message == "" || f.Line < 0 || f.Line > lines || f.Column < 0 {
				t.Fatalf("bad finding %+v (file has %d lines)", f, lines)
			}
			if !wfAssertRules[f.Rule] && !strings.HasPrefix(f.Rule, "actionlint/") {
				t.Fatalf("unknown rule %q in %+v", f.Rule, f)
			}
		}
	})
}

// yamlLines counts lines as YAML does: \r\n, \r, \n, NEL, LS and PS each
// end one.
func yamlLines(src []byte) int {
	s := strings.ReplaceAll(string(src), "\r\n", "\n")
	n := 1
	for _, r := range s {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

// BenchmarkWorkflowCheck grades an 80-line workflow with every assertion on.
func BenchmarkWorkflowCheck(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "workflow", "good.yml"))
	if err != nil {
		b.Fatal(err)
	}
	files := &memFiles{files: map[string][]byte{wfPath: src}}
	in := grading.Input{Lab: &labs.Lab{ID: "ci-pipeline"}, Check: labs.Check{ID: "ci", Kind: "workflow", Points: 1, With: []byte(allAsserts)}, Files: files}
	c := grading.WorkflowChecker{}
	b.ReportAllocs()
	for b.Loop() {
		if cr := c.Check(context.Background(), in); cr.Status != opsdojo.StatusPass {
			b.Fatalf("%s %q", cr.Status, cr.Messages)
		}
	}
}
