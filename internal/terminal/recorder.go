package terminal

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Recorder writes a terminal's output and resizes as an asciicast v2 file
// (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line,
// then one JSON array per event, [seconds, "o", text] for output and
// [seconds, "r", "COLSxROWS"] for a resize, [seconds, "m", label] for a
// marker.
//
// The terminal's pump never waits for the disk: events are queued in
// memory and written by a goroutine that runs only while there is
// something to write. If the queue outgrows its bound, or the file reaches
// its size cap, or its Budget runs out, recording stops with a final
// marker event saying so.
type Recorder struct {
	path       string
	f          *os.File
	start      time.Time
	maxBytes   int64
	maxQueue   int
	budget     *Budget
	onTruncate func(reason string)

	mu       sync.Mutex
	queue    []recEvent
	queued   int
	running  bool
	stopping bool   // no more events accepted
	stopMark string // marker to write once the queue is drained
	closed   bool
	idle     *sync.Cond
	written  int64

	// Only the drain goroutine (one at a time) touches these.
	carry []byte // an incomplete UTF-8 sequence at the end of the last output
	line  []byte
	ends  []int
}

type recEvent struct {
	at   time.Duration
	kind byte
	data []byte
}

// RecorderOptions tune a recording.
type RecorderOptions struct {
	Cols, Rows uint
	Title      string
	// MaxBytes caps the file (default 20 MiB).
	MaxBytes int64
	// MaxQueue bounds the bytes waiting for the disk (default 4 MiB).
	MaxQueue int
	// Now is the recording's start (default time.Now()).
	Now time.Time
	// Budget, if set, is shared with other recorders (a learner's): what
	// they write together stays within it.
	Budget *Budget
	// OnTruncate, if set, is called once, from the recorder's writer, when
	// recording stops before Close, with the marker's text.
	OnTruncate func(reason string)
}

// Budget is a byte allowance shared by recorders: one per learner, so that
// opening more terminals does not give them more recording space. The
// allowance covers what the recorders write; the final marker of a
// stopped recording (a few hundred bytes) may go past it.
type Budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

// NewBudget returns a budget of limit bytes of which used are spent
// already (recordings on disk).
func NewBudget(limit, used int64) *Budget { return &Budget{limit: limit, used: max(used, 0)} }

// Limit is the budget's size.
func (b *Budget) Limit() int64 { return b.limit }

// Used is what has been spent.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Left is what can still be written.
func (b *Budget) Left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.limit-b.used, 0)
}

// Release gives back bytes (a recording was deleted).
func (b *Budget) Release(n int64) {
	b.mu.Lock()
	b.used = max(b.used-n, 0)
	b.mu.Unlock()
}

// take grants up to n bytes.
func (b *Budget) take(n int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := min(n, max(b.limit-b.used, 0))
	b.used += g
	return g
}

// charge spends n bytes whatever is left (headers, final markers).
func (b *Budget) charge(n int64) {
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// BudgetReason is the marker of a recording stopped by its budget.
func BudgetReason(limit int64) string {
	return fmt.Sprintf("recording truncated: your recordings reached their %d MiB limit", (limit+1<<19)>>20)
}

// NewRecorder creates the file at path (which must not exist) and writes
// the header.
func NewRecorder(path string, opts RecorderOptions) (*Recorder, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 20 << 20
	}
	if opts.MaxQueue <= 0 {
		opts.MaxQueue = 4 << 20
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create recording: %w", err)
	}
	header, _ := json.Marshal(struct {
		Version   int    `json:"version"`
		Width     uint   `json:"width"`
		Height    uint   `json:"height"`
		Timestamp int64  `json:"timestamp"`
		Title     string `json:"title,omitempty"`
	}{2, opts.Cols, opts.Rows, opts.Now.Unix(), opts.Title})
	header = append(header, '\n')
	if _, err := f.Write(header); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write recording header: %w", err)
	}
	r := &Recorder{path: path, f: f, start: opts.Now, maxBytes: opts.MaxBytes, maxQueue: opts.MaxQueue, written: int64(len(header)),
		budget: opts.Budget, onTruncate: opts.OnTruncate}
	if r.budget != nil {
		r.budget.charge(int64(len(header)))
	}
	r.idle = sync.NewCond(&r.mu)
	return r, nil
}

// Path is the file's name.
func (r *Recorder) Path() string { return r.path }

// Output records terminal output. p is copied.
func (r *Recorder) Output(p []byte) { r.add('o', p, time.Now()) }

// Resize records a window size change.
func (r *Recorder) Resize(cols, rows uint) {
	r.add('r', []byte(strconv.FormatUint(uint64(cols), 10)+"x"+strconv.FormatUint(uint64(rows), 10)), time.Now())
}

func (r *Recorder) add(kind byte, p []byte, now time.Time) {
	if len(p) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return
	}
	at := now.Sub(r.start)
	if r.queued+len(p) > r.maxQueue {
		r.stopLocked("recording truncated: the disk could not keep up")
		return
	}
	// Output within a few milliseconds of the previous output joins it:
	// fewer, larger events under heavy output.
	if n := len(r.queue); n > 0 && kind == 'o' && r.queue[n-1].kind == 'o' && at-r.queue[n-1].at < 5*time.Millisecond {
		r.queue[n-1].data = append(r.queue[n-1].data, p...)
	} else {
		r.queue = append(r.queue, recEvent{at: at, kind: kind, data: append([]byte(nil), p...)})
	}
	r.queued += len(p)
	r.kick()
}

// stopLocked accepts no more events; mark is written after what is queued.
func (r *Recorder) stopLocked(mark string) {
	r.stopping = true
	r.stopMark = mark
	r.kick()
}

func (r *Recorder) kick() {
	if !r.running && !r.closed {
		r.running = true
		go r.drain()
	}
}

// drain writes queued events until the queue is empty.
func (r *Recorder) drain() {
	for {
		r.mu.Lock()
		q := r.queue
		r.queue, r.queued = nil, 0
		mark := ""
		if len(q) == 0 && r.stopMark != "" {
			mark, r.stopMark = r.stopMark, ""
		}
		if len(q) == 0 && mark == "" {
			r.running = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		capped := r.written
		r.mu.Unlock()

		buf := r.line[:0]
		stop := ""
		ends := r.ends[:0] // where each event ends in buf
		for _, ev := range q {
			start := len(buf)
			buf = r.appendEvent(buf, ev)
			if capped+int64(len(buf))+256 > r.maxBytes {
				buf = buf[:start]
				stop = "recording truncated: size limit reached"
				break
			}
			ends = append(ends, len(buf))
		}
		r.ends = ends
		if r.budget != nil && len(buf) > 0 {
			// Whole events only: cut at the last one the grant covers and
			// give the rest back.
			granted := int(r.budget.take(int64(len(buf))))
			if granted < len(buf) {
				cut := 0
				for _, end := range ends {
					if end > granted {
						break
					}
					cut = end
				}
				r.budget.Release(int64(granted - cut))
				buf = buf[:cut]
				stop = BudgetReason(r.budget.Limit())
			}
		}
		events := len(buf)
		if mark != "" {
			buf = r.appendMarker(buf, time.Since(r.start), mark)
		}
		if stop != "" {
			buf = r.appendMarker(buf, time.Since(r.start), stop)
		}
		if r.budget != nil {
			r.budget.charge(int64(len(buf) - events))
		}
		n, err := r.f.Write(buf)
		if cap(buf) <= 64<<10 {
			r.line = buf[:0]
		} else {
			r.line = nil
		}
		r.mu.Lock()
		r.written += int64(n)
		if err != nil && !r.stopping {
			r.stopping = true // the disk failed: stop quietly
		}
		if stop != "" {
			r.stopping = true
			r.queue, r.queued, r.stopMark = nil, 0, ""
		}
		r.mu.Unlock()
		if why := cmp.Or(stop, mark); why != "" && r.onTruncate != nil {
			r.onTruncate(why)
		}
	}
}

func (r *Recorder) appendEvent(buf []byte, ev recEvent) []byte {
	buf = append(buf, '[')
	buf = strconv.AppendFloat(buf, ev.at.Seconds(), 'f', 6, 64)
	buf = append(buf, ", \""...)
	buf = append(buf, ev.kind)
	buf = append(buf, "\", "...)
	if ev.kind == 'o' {
		data := ev.data
		if len(r.carry) > 0 {
			data = append(r.carry, data...)
			r.carry = nil
		}
		// Keep an incomplete multi-byte sequence for the next event.
		cut := incompleteTail(data)
		if cut > 0 {
			r.carry = append([]byte(nil), data[len(data)-cut:]...)
			data = data[:len(data)-cut]
		}
		buf = appendJSONString(buf, data)
	} else {
		buf = appendJSONString(buf, ev.data)
	}
	return append(buf, "]\n"...)
}

func (r *Recorder) appendMarker(buf []byte, at time.Duration, label string) []byte {
	return r.appendEvent(buf, recEvent{at: at, kind: 'm', data: []byte(label)})
}

// Close writes what is queued and closes the file. It returns the file's
// size.
func (r *Recorder) Close() (int64, error) {
	r.mu.Lock()
	if r.closed {
		n := r.written
		r.mu.Unlock()
		return n, nil
	}
	r.stopping = true
	for r.running {
		r.idle.Wait()
	}
	r.closed = true
	n := r.written
	r.mu.Unlock()
	return n, r.f.Close()
}

// Bytes is what has been written so far.
func (r *Recorder) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written
}

// incompleteTail returns how many bytes at the end of p start a UTF-8
// sequence that the next bytes may complete (0 to 3).
func incompleteTail(p []byte) int {
	for i := 1; i <= 3 && i <= len(p); i++ {
		b := p[len(p)-i]
		if b < 0x80 {
			return 0
		}
		if b >= 0xc0 { // a lead byte: is its sequence longer than what is here?
			need := 0
			switch {
			case b >= 0xf0:
				need = 4
			case b >= 0xe0:
				need = 3
			default:
				need = 2
			}
			if need > i {
				return i
			}
			return 0
		}
	}
	return 0
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends p as a JSON string; bytes that are not UTF-8
// become U+FFFD.
func appendJSONString(buf, p []byte) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, p[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, p[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, p[start:]...)
	return append(buf, '"')
}
