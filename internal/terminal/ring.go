package terminal

import "sync/atomic"

// ringReserved counts the bytes every ring buffer of the process has
// allocated, so that benchmarks can tell the buffers apart from the rest of
// a terminal's memory.
var ringReserved atomic.Int64

// RingBytesReserved reports the bytes allocated by all terminals' output
// buffers in this process.
func RingBytesReserved() int64 { return ringReserved.Load() }

// ring keeps the last max bytes of a terminal's output. Positions are
// absolute byte offsets in the output stream since the terminal started:
// the ring holds [Start, End). The storage grows on demand (doubling) up to
// max, so an idle terminal costs little. Not safe for concurrent use; the
// terminal's mutex guards it.
type ring struct {
	buf []byte // len(buf) is the current capacity; position p lives at p % len(buf)
	max int
	end uint64 // position after the last byte written
	n   int    // bytes held: End - Start
}

func newRing(max int) ring {
	if max < 1 {
		max = 1
	}
	return ring{max: max}
}

// Start is the position of the oldest byte held.
func (r *ring) Start() uint64 { return r.end - uint64(r.n) }

// End is the position after the newest byte.
func (r *ring) End() uint64 { return r.end }

// Reserved is how many bytes of storage the ring holds.
func (r *ring) Reserved() int { return len(r.buf) }

// Write appends p, dropping the oldest bytes once the ring is full.
func (r *ring) Write(p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p) >= r.max {
		// Only the tail of p survives.
		r.end += uint64(len(p) - r.max)
		p = p[len(p)-r.max:]
		r.n = 0
	}
	if need := r.n + len(p); need > len(r.buf) && len(r.buf) < r.max {
		r.grow(need)
	}
	put(r.buf, r.end, p)
	r.end += uint64(len(p))
	r.n = min(r.n+len(p), len(r.buf))
}

// put copies data into buf at position pos modulo len(buf), wrapping.
func put(buf []byte, pos uint64, data []byte) {
	at := int(pos % uint64(len(buf)))
	k := copy(buf[at:], data)
	copy(buf, data[k:])
}

// grow reallocates the storage to hold at least need bytes (at most max),
// keeping every byte held at its position modulo the new size.
func (r *ring) grow(need int) {
	size := min(max(len(r.buf)*2, 1024, need), r.max)
	nb := make([]byte, size)
	if r.n > 0 {
		start := r.Start()
		at := int(start % uint64(len(r.buf)))
		first := r.buf[at:min(at+r.n, len(r.buf))]
		put(nb, start, first)
		if rest := r.n - len(first); rest > 0 {
			put(nb, start+uint64(len(first)), r.buf[:rest])
		}
	}
	ringReserved.Add(int64(size - len(r.buf)))
	r.buf = nb
}

// ReadAt copies bytes from position pos into dst and returns how many it
// copied: fewer than len(dst) when End is reached, 0 when pos is outside
// [Start, End).
func (r *ring) ReadAt(dst []byte, pos uint64) int {
	if pos < r.Start() || pos >= r.end || len(r.buf) == 0 {
		return 0
	}
	n := int(min(uint64(len(dst)), r.end-pos))
	size := uint64(len(r.buf))
	at := int(pos % size)
	k := copy(dst[:n], r.buf[at:])
	copy(dst[k:n], r.buf)
	return n
}

// release frees the storage.
func (r *ring) release() {
	ringReserved.Add(-int64(len(r.buf)))
	r.buf = nil
	r.n = 0
}
