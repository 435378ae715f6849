package promeval

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStore is the in-memory series storage the engine queries: float
// samples only, no chunks, no disk. Input series are loaded up front;
// samples are visible only up to the watermark, which the evaluation loop
// moves forward step by step, so a query at step t sees exactly what
// promtool's lazily loaded storage would hold at t.
//
// It is used by one goroutine at a time (the evaluation loop, and the
// engine it calls synchronously), so it needs no locks.
type memStore struct {
	byKey  map[string]*memSeries
	byName map[string][]*memSeries
	all    []*memSeries
	sorted bool
	// watermark: samples after it are not yet "appended".
	watermark int64
	// samples counts every sample held, for the limits.
	samples int
}

type memSeries struct {
	lset    labels.Labels
	samples []fsample
}

func (ms *memSeries) search(t int64) (int, bool) {
	return slices.BinarySearchFunc(ms.samples, t, func(s fsample, t int64) int { return cmp.Compare(s.t, t) })
}

type appendResult int

const (
	appended appendResult = iota
	// duplicateSame: a sample with this timestamp and value exists already.
	duplicateSame
	// duplicateDiff: a sample with this timestamp but another value exists.
	duplicateDiff
	// outOfOrder: a newer sample is visible already.
	outOfOrder
)

func newMemStore() *memStore {
	return &memStore{byKey: map[string]*memSeries{}, byName: map[string][]*memSeries{}, watermark: math.MinInt64}
}

func (s *memStore) series(lset labels.Labels) *memSeries {
	key := string(lset.Bytes(nil))
	ms, ok := s.byKey[key]
	if !ok {
		ms = &memSeries{lset: lset}
		s.byKey[key] = ms
		name := lset.Get(model.MetricNameLabel)
		s.byName[name] = append(s.byName[name], ms)
		s.all = append(s.all, ms)
		s.sorted = false
	}
	return ms
}

// load adds an input sample regardless of the watermark (input series are
// loaded before evaluation starts). Duplicates keep the first value.
func (s *memStore) load(lset labels.Labels, t int64, v float64) {
	ms := s.series(lset)
	if n := len(ms.samples); n == 0 || ms.samples[n-1].t < t {
		ms.samples = append(ms.samples, fsample{t, v})
		s.samples++
		return
	}
	i, found := ms.search(t)
	if found {
		return
	}
	ms.samples = slices.Insert(ms.samples, i, fsample{t, v})
	s.samples++
}

// add appends a sample written by a rule at t (which is at or before the
// watermark), refusing what a TSDB would refuse.
func (s *memStore) add(lset labels.Labels, t int64, v float64) appendResult {
	ms := s.series(lset)
	i, found := ms.search(t)
	if found {
		if math.Float64bits(ms.samples[i].f) == math.Float64bits(v) {
			return duplicateSame
		}
		return duplicateDiff
	}
	if i < len(ms.samples) && ms.samples[i].t <= s.watermark {
		return outOfOrder
	}
	ms.samples = slices.Insert(ms.samples, i, fsample{t, v})
	s.samples++
	return appended
}

func (s *memStore) sortAll() {
	if s.sorted {
		return
	}
	sort.Slice(s.all, func(i, j int) bool { return labels.Compare(s.all[i].lset, s.all[j].lset) < 0 })
	for _, list := range s.byName {
		sort.Slice(list, func(i, j int) bool { return labels.Compare(list[i].lset, list[j].lset) < 0 })
	}
	s.sorted = true
}

// Querier implements storage.Queryable.
func (s *memStore) Querier(mint, maxt int64) (storage.Querier, error) {
	if maxt > s.watermark {
		maxt = s.watermark
	}
	return &memQuerier{s: s, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	s          *memStore
	mint, maxt int64
}

var errQueryCanceled = errors.New("query canceled")

func (q *memQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	q.s.sortAll()
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint = max(mint, hints.Start)
		maxt = min(maxt, hints.End)
	}
	candidates := q.s.all
	for _, m := range ms {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			candidates = q.s.byName[m.Value]
			break
		}
	}
	var out []storage.Series
	for i, c := range candidates {
		if i%1024 == 1023 && ctx.Err() != nil {
			return storage.ErrSeriesSet(errQueryCanceled)
		}
		if !matches(c.lset, ms) {
			continue
		}
		lo, _ := c.search(mint)
		hi, found := c.search(maxt)
		if found {
			hi++
		}
		if lo >= hi {
			continue
		}
		out = append(out, &memView{lset: c.lset, samples: c.samples[lo:hi:hi]})
	}
	return &memSet{list: out, i: -1}
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (q *memQuerier) LabelValues(ctx context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, c := range q.s.all {
		if v := c.lset.Get(name); v != "" && matches(c.lset, ms) {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil, nil
}

func (q *memQuerier) LabelNames(ctx context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, c := range q.s.all {
		if matches(c.lset, ms) {
			c.lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil, nil
}

func (q *memQuerier) Close() error { return nil }

type memSet struct {
	list []storage.Series
	i    int
}

func (s *memSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *memSet) At() storage.Series                { return s.list[s.i] }
func (s *memSet) Err() error                        { return nil }
func (s *memSet) Warnings() annotations.Annotations { return nil }

// memView is a series clipped to a querier's time range.
type memView struct {
	lset    labels.Labels
	samples []fsample
}

func (v *memView) Labels() labels.Labels { return v.lset }

func (v *memView) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(fsamples(v.samples))
}

// fsample is a float sample; *fsample implements chunks.Sample.
type fsample struct {
	t int64
	f float64
}

func (s *fsample) T() int64                      { return s.t }
func (s *fsample) ST() int64                     { return 0 }
func (s *fsample) F() float64                    { return s.f }
func (s *fsample) H() *histogram.Histogram       { return nil }
func (s *fsample) FH() *histogram.FloatHistogram { return nil }
func (s *fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s *fsample) Copy() chunks.Sample           { c := *s; return &c }

// fsamples implements storage.Samples without allocating per sample.
type fsamples []fsample

func (s fsamples) Get(i int) chunks.Sample { return &s[i] }
func (s fsamples) Len() int                { return len(s) }

// staleNaN is Prometheus's staleness marker.
var staleNaN = math.Float64frombits(value.StaleNaN)
