package terminal

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestRingPositions(t *testing.T) {
	r := newRing(16)
	if r.Start() != 0 || r.End() != 0 || r.Reserved() != 0 {
		t.Fatalf("empty ring: start %d end %d reserved %d", r.Start(), r.End(), r.Reserved())
	}
	r.Write([]byte("hello"))
	if r.Start() != 0 || r.End() != 5 {
		t.Fatalf("after 5 bytes: [%d, %d)", r.Start(), r.End())
	}
	buf := make([]byte, 10)
	if n := r.ReadAt(buf, 1); string(buf[:n]) != "ello" {
		t.Fatalf("ReadAt(1) = %q", buf[:n])
	}
	r.Write([]byte("0123456789abcdef")) // 21 bytes in all: the first 5 are gone
	if r.Start() != 5 || r.End() != 21 {
		t.Fatalf("after wrap: [%d, %d)", r.Start(), r.End())
	}
	if n := r.ReadAt(buf, 0); n != 0 {
		t.Fatalf("ReadAt before Start returned %d bytes", n)
	}
	if n := r.ReadAt(buf, 21); n != 0 {
		t.Fatalf("ReadAt at End returned %d bytes", n)
	}
	all := make([]byte, 32)
	if n := r.ReadAt(all, 5); string(all[:n]) != "0123456789abcdef" {
		t.Fatalf("ReadAt(5) = %q", all[:n])
	}
	// A write larger than the ring keeps its tail.
	r.Write(bytes.Repeat([]byte("x"), 40))
	r.Write([]byte("END"))
	if r.End() != 64 || r.Start() != 48 {
		t.Fatalf("after a big write: [%d, %d)", r.Start(), r.End())
	}
	if n := r.ReadAt(all, 48); string(all[:n]) != "xxxxxxxxxxxxxEND" {
		t.Fatalf("tail = %q", all[:n])
	}
}

// TestRingMatchesModel writes random chunks and compares every readable
// range with a plain byte slice of the whole stream.
func TestRingMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{1, 7, 1000, 4096, 5000} {
		r := newRing(size)
		var stream []byte
		for i := 0; i < 300; i++ {
			chunk := make([]byte, rng.Intn(3*size/2+2))
			rng.Read(chunk)
			r.Write(chunk)
			stream = append(stream, chunk...)
			if r.End() != uint64(len(stream)) {
				t.Fatalf("size %d: End %d, stream %d", size, r.End(), len(stream))
			}
			wantStart := max(0, len(stream)-size)
			if r.Start() != uint64(wantStart) {
				t.Fatalf("size %d: Start %d, want %d", size, r.Start(), wantStart)
			}
			if r.Reserved() > size {
				t.Fatalf("size %d: reserved %d", size, r.Reserved())
			}
			from := r.Start() + uint64(rng.Intn(int(r.End()-r.Start())+1))
			got := make([]byte, rng.Intn(size+1))
			n := r.ReadAt(got, from)
			want := stream[from:min(int(from)+len(got), len(stream))]
			if !bytes.Equal(got[:n], want) {
				t.Fatalf("size %d: ReadAt(%d) differs", size, from)
			}
		}
	}
}

func TestRingGrowsLazily(t *testing.T) {
	r := newRing(1 << 20)
	r.Write([]byte("prompt$ "))
	if r.Reserved() > 1024 {
		t.Fatalf("a ring with 8 bytes reserves %d", r.Reserved())
	}
	r.Write(make([]byte, 3000))
	if r.Reserved() < 3008 || r.Reserved() > 8192 {
		t.Fatalf("reserved %d after 3008 bytes", r.Reserved())
	}
	before := RingBytesReserved()
	r.release()
	if RingBytesReserved() >= before {
		t.Fatal("release did not return the reserved bytes")
	}
}

func TestIncompleteTail(t *testing.T) {
	euro := []byte("€") // e2 82 ac
	for _, c := range []struct {
		in   []byte
		want int
	}{
		{[]byte("abc"), 0},
		{euro, 0},
		{euro[:1], 1},
		{euro[:2], 2},
		{append([]byte("a"), euro[:2]...), 2},
		{[]byte("😀")[:3], 3},
		{[]byte{0x80}, 0}, // a stray continuation byte: nothing to wait for
	} {
		if got := incompleteTail(c.in); got != c.want {
			t.Errorf("incompleteTail(% x) = %d, want %d", c.in, got, c.want)
		}
	}
}
