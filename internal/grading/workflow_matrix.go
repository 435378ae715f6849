package grading

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rhysd/actionlint"
)

// Matrix expansion, as GitHub documents it for jobs.<id>.strategy.matrix:
//
//  1. The lists (every key but include and exclude) make the runs: one per
//     combination of their values. No lists, no runs yet.
//  2. Every exclude: entry removes the runs it matches; an entry matches a
//     run when each of its keys has the same value there (a partial match).
//  3. include: entries, in order, extend or add runs: an entry is merged
//     into every run of step 2 whose list values it does not contradict
//     (a value it sets for a key that came from a list must be equal;
//     values earlier includes added are overwritten). An entry merged
//     nowhere becomes a run of its own. Runs added this way are never
//     merged into by later entries.
//
// The values a key takes are its values over the resulting runs. Values
// are compared as actionlint reads them (scalars by their text, mappings
// and lists by their items).
//
// What only the run can know: a ${{ }} in place of the whole matrix, of the
// asserted key's list, of include: or exclude: or of one of their entries
// makes the runs unknowable: the grader reports it and does not guess. A
// ${{ }} as one value (or as another key's list, which counts as one value)
// is a value equal to no other, and is not counted for the asserted key.

// wfMaxMatrixRuns bounds the combinations the grader expands (GitHub
// itself runs at most 256 jobs of a matrix, after exclude:), and
// wfMaxMatrixWork the value comparisons of exclude: and include: over
// them, so that a hostile matrix costs milliseconds.
const (
	wfMaxMatrixRuns = 1024
	wfMaxMatrixWork = 1 << 20
)

// wfMatrixValue is one value in a run; expr values are ${{ }} text.
type wfMatrixValue struct {
	v    actionlint.RawYAMLValue
	expr bool
}

func (a wfMatrixValue) equal(b wfMatrixValue) bool {
	return !a.expr && !b.expr && a.v != nil && b.v != nil && a.v.Equals(b.v)
}

func wfNewMatrixValue(v actionlint.RawYAMLValue) wfMatrixValue {
	s, ok := v.(*actionlint.RawYAMLString)
	return wfMatrixValue{v: v, expr: ok && strings.Contains(s.Value, "${{")}
}

// wfMatrixRun is one job of the matrix.
type wfMatrixRun struct {
	vals map[string]wfMatrixValue // lower-case key → value
	// listed marks keys whose value came from a list: include: never
	// overwrites those.
	listed map[string]bool
	// at is the include: entry that made the run (nil: the lists did).
	at *actionlint.Pos
}

// wfExpansion is the outcome of expanding a matrix.
type wfExpansion struct {
	runs []*wfMatrixRun
	// names maps lower-case keys to how the file spells them.
	names map[string]string
	// unknown is set when a ${{ }} makes the runs unknowable.
	unknown *actionlint.String
	what    string // what unknown stands for: "the matrix", "include:" ...
	// tooMany is set when the lists multiply to more than wfMaxMatrixRuns,
	// or exclude: and include: would take more than wfMaxMatrixWork.
	tooMany int
	// excluded: some run was removed by exclude:. mergedKey: an include:
	// entry that sets the asserted key was merged into existing runs.
	excluded, mergedKey bool
}

// wfExpandMatrix expands m; key is the asserted key (lower case).
func wfExpandMatrix(m *actionlint.Matrix, key string) wfExpansion {
	x := wfExpansion{names: map[string]string{}}
	if m.Expression != nil {
		x.unknown, x.what = m.Expression, "the whole matrix"
		return x
	}
	// 1. The lists.
	keys := make([]string, 0, len(m.Rows))
	for k := range m.Rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lists [][]wfMatrixValue
	total := 1
	for _, k := range keys {
		row := m.Rows[k]
		if row == nil {
			continue
		}
		x.names[k] = k
		if row.Name != nil {
			x.names[k] = row.Name.Value
		}
		var vals []wfMatrixValue
		switch {
		case row.Expression != nil && k == key:
			x.unknown, x.what = row.Expression, fmt.Sprintf("the %s: list", x.names[k])
			return x
		case row.Expression != nil:
			vals = []wfMatrixValue{{v: &actionlint.RawYAMLString{Value: row.Expression.Value}, expr: true}}
		default:
			for _, v := range row.Values {
				if v != nil {
					vals = append(vals, wfNewMatrixValue(v))
				}
			}
		}
		keys[len(lists)] = k
		lists = append(lists, vals)
		total *= len(vals)
		if total > wfMaxMatrixRuns {
			x.tooMany = total
			return x
		}
	}
	keys = keys[:len(lists)]
	var base []*wfMatrixRun
	if len(lists) > 0 {
		idx := make([]int, len(lists))
		for n := 0; n < total; n++ {
			r := &wfMatrixRun{vals: map[string]wfMatrixValue{}, listed: map[string]bool{}}
			for i, k := range keys {
				r.vals[k] = lists[i][idx[i]]
				r.listed[k] = true
			}
			base = append(base, r)
			for i := len(idx) - 1; i >= 0; i-- {
				if idx[i]++; idx[i] < len(lists[i]) {
					break
				}
				idx[i] = 0
			}
		}
	}

	// 2. exclude:
	work := 0
	if ex := m.Exclude; ex != nil {
		if ex.Expression != nil {
			x.unknown, x.what = ex.Expression, "exclude:"
			return x
		}
		for _, c := range ex.Combinations {
			if c == nil {
				continue
			}
			if c.Expression != nil {
				x.unknown, x.what = c.Expression, "an exclude: entry"
				return x
			}
			if work += len(base) * len(c.Assigns); work > wfMaxMatrixWork {
				x.tooMany = total
				return x
			}
			kept := base[:0]
			for _, r := range base {
				if wfMatches(r, c) {
					x.excluded = true
					continue
				}
				kept = append(kept, r)
			}
			base = kept
		}
	}

	// 3. include:
	var added []*wfMatrixRun
	if in := m.Include; in != nil {
		if in.Expression != nil {
			x.unknown, x.what = in.Expression, "include:"
			return x
		}
		for _, c := range in.Combinations {
			if c == nil {
				continue
			}
			if c.Expression != nil {
				x.unknown, x.what = c.Expression, "an include: entry"
				return x
			}
			for k, as := range c.Assigns {
				if _, ok := x.names[k]; !ok && as != nil && as.Key != nil {
					x.names[k] = as.Key.Value
				}
			}
			if work += len(base) * len(c.Assigns); work > wfMaxMatrixWork {
				x.tooMany = total
				return x
			}
			merged := false
			for _, r := range base {
				if !wfCompatible(r, c) {
					continue
				}
				merged = true
				for k, as := range c.Assigns {
					if as != nil && as.Value != nil {
						r.vals[k] = wfNewMatrixValue(as.Value)
					}
				}
			}
			if merged {
				if c.Assigns[key] != nil {
					x.mergedKey = true
				}
				continue
			}
			r := &wfMatrixRun{vals: map[string]wfMatrixValue{}, listed: map[string]bool{}, at: wfEntryPos(c)}
			for k, as := range c.Assigns {
				if as != nil && as.Value != nil {
					r.vals[k] = wfNewMatrixValue(as.Value)
				}
			}
			added = append(added, r)
		}
	}
	x.runs = append(base, added...)
	return x
}

// wfMatches: an exclude: entry matches the run (every key it names has
// the same value in the run).
func wfMatches(r *wfMatrixRun, c *actionlint.MatrixCombination) bool {
	for k, as := range c.Assigns {
		if as == nil || as.Value == nil {
			continue
		}
		v, ok := r.vals[k]
		if !ok || !v.equal(wfNewMatrixValue(as.Value)) {
			return false
		}
	}
	return true
}

// wfCompatible: an include: entry can be merged into the run (it changes
// no value that came from a list).
func wfCompatible(r *wfMatrixRun, c *actionlint.MatrixCombination) bool {
	for k, as := range c.Assigns {
		if as == nil || as.Value == nil || !r.listed[k] {
			continue
		}
		if !r.vals[k].equal(wfNewMatrixValue(as.Value)) {
			return false
		}
	}
	return true
}

// wfEntryPos is where an include: entry starts: its first key.
func wfEntryPos(c *actionlint.MatrixCombination) *actionlint.Pos {
	var first *actionlint.Pos
	for _, as := range c.Assigns {
		if as == nil || as.Key == nil || as.Key.Pos == nil {
			continue
		}
		p := as.Key.Pos
		if first == nil || p.Line < first.Line || p.Line == first.Line && p.Col < first.Col {
			first = p
		}
	}
	return first
}

// describe renders a run as {"os": "windows-latest"}, keys sorted.
func (x wfExpansion) describe(r *wfMatrixRun) string {
	keys := make([]string, 0, len(r.vals))
	for k := range r.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := x.names[k]
		if name == "" {
			name = k
		}
		parts = append(parts, fmt.Sprintf("%q: %s", name, r.vals[k].v.String()))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
