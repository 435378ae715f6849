package terminal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readCast parses an asciicast v2 file strictly.
func readCast(t *testing.T, path string) (map[string]any, [][3]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	if !sc.Scan() {
		t.Fatal("empty recording")
	}
	var header map[string]any
	if err := json.Unmarshal(sc.Bytes(), &header); err != nil {
		t.Fatalf("header %q: %v", sc.Text(), err)
	}
	var events [][3]any
	last := -1.0
	for sc.Scan() {
		var ev []any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		at, ok1 := ev[0].(float64)
		_, ok2 := ev[1].(string)
		_, ok3 := ev[2].(string)
		if !ok1 || !ok2 || !ok3 || at < last {
			t.Fatalf("bad event %q", sc.Text())
		}
		last = at
		events = append(events, [3]any{ev[0], ev[1], ev[2]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return header, events
}

func TestRecorderWritesAsciicastV2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "main-1.cast")
	start := time.Now()
	r, err := NewRecorder(path, RecorderOptions{Cols: 100, Rows: 30, Title: "git-basics · main", Now: start})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRecorder(path, RecorderOptions{}); err == nil {
		t.Fatal("a second recorder overwrote the file")
	}
	euro := []byte("€")
	r.Output([]byte("hello \"quoted\" \\ \x1b[1mbold\x1b[0m\r\n"))
	time.Sleep(10 * time.Millisecond)
	r.Output(append([]byte("price: "), euro[:1]...)) // a character split across reads
	time.Sleep(10 * time.Millisecond)
	r.Output(append(euro[1:], []byte("\r\nbad \xff byte")...))
	r.Resize(120, 40)
	n, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != n {
		t.Fatalf("Close reported %d bytes, the file has %d", n, fi.Size())
	}
	header, events := readCast(t, path)
	if header["version"] != 2.0 || header["width"] != 100.0 || header["height"] != 30.0 ||
		header["timestamp"] != float64(start.Unix()) || header["title"] != "git-basics · main" {
		t.Fatalf("header %v", header)
	}
	var out strings.Builder
	var resize string
	for _, ev := range events {
		switch ev[1] {
		case "o":
			out.WriteString(ev[2].(string))
		case "r":
			resize = ev[2].(string)
		}
	}
	want := "hello \"quoted\" \\ \x1b[1mbold\x1b[0m\r\nprice: €\r\nbad \ufffd byte"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	if resize != "120x40" {
		t.Fatalf("resize event %q", resize)
	}
}

func TestRecorderSizeCap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "yes.cast")
	const limit = 64 << 10
	r, err := NewRecorder(path, RecorderOptions{Cols: 80, Rows: 24, MaxBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("y\r\n", 1000))
	for i := 0; i < 200; i++ { // 600 KB offered
		r.Output(chunk)
		time.Sleep(time.Millisecond)
	}
	n, _ := r.Close()
	if n > limit {
		t.Fatalf("the recording grew to %d bytes past its cap of %d", n, limit)
	}
	_, events := readCast(t, path)
	last := events[len(events)-1]
	if last[1] != "m" || !strings.Contains(last[2].(string), "truncated") {
		t.Fatalf("last event %v, want a truncation marker", last)
	}
}

func TestRecorderNeverBlocks(t *testing.T) {
	// A queue bound smaller than what arrives at once: the recorder drops
	// to a marker instead of holding the caller.
	path := filepath.Join(t.TempDir(), "fast.cast")
	r, err := NewRecorder(path, RecorderOptions{MaxQueue: 1024})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4096)
	for i := range big {
		big[i] = 'x'
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			r.Output(big)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Output blocked")
	}
	r.Close()
	_, events := readCast(t, path)
	last := events[len(events)-1]
	if last[1] != "m" || !strings.Contains(last[2].(string), "could not keep up") {
		t.Fatalf("last event %v", last)
	}
}

// TestRecorderBudgetShared: recorders sharing a budget together write no
// more than it allows (plus their final markers), however many there
// are; each one that runs out ends with the budget's marker and reports
// it once; output after that is dropped.
func TestRecorderBudgetShared(t *testing.T) {
	dir := t.TempDir()
	const limit = 64 << 10
	b := NewBudget(limit, 1000) // 1000 bytes spent by earlier recordings
	var mu sync.Mutex
	reasons := map[int][]string{}
	recs := make([]*Recorder, 6)
	for i := range recs {
		r, err := NewRecorder(filepath.Join(dir, fmt.Sprintf("t%d.cast", i)), RecorderOptions{Cols: 80, Rows: 24, MaxBytes: 1 << 20, Budget: b,
			OnTruncate: func(why string) { mu.Lock(); reasons[i] = append(reasons[i], why); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = r
	}
	line := []byte(strings.Repeat("x", 1000) + "\r\n")
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 { // 200 KB each: far past the shared 64 KiB
				r.Output(line)
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	var total int64
	for i, r := range recs {
		n, err := r.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
		_, events := readCast(t, r.Path())
		if last := events[len(events)-1]; last[1] != "m" || last[2] != BudgetReason(limit) {
			t.Fatalf("recording %d ends with %v, want the budget's marker", i, last)
		}
		mu.Lock()
		if len(reasons[i]) != 1 || reasons[i][0] != BudgetReason(limit) {
			t.Fatalf("recording %d reported %q", i, reasons[i])
		}
		mu.Unlock()
	}
	if markers := int64(len(recs)) * 256; total+1000 > limit+markers {
		t.Fatalf("recordings wrote %d bytes (+1000 before) with a %d budget", total, limit)
	}
	if b.Used() != total+1000 {
		t.Fatalf("budget used %d, files hold %d + 1000", b.Used(), total)
	}
	left := b.Left()
	if left >= int64(len(line))+32 { // less than one more event
		t.Fatalf("budget left %d after running out", left)
	}
	b.Release(total)
	if b.Left() != limit-1000 {
		t.Fatalf("after release: %d left", b.Left())
	}
	// A new recording on an exhausted budget records its header only, and
	// stops at its first output.
	b = NewBudget(10, 10)
	r, err := NewRecorder(filepath.Join(dir, "late.cast"), RecorderOptions{Budget: b})
	if err != nil {
		t.Fatal(err)
	}
	r.Output([]byte("secret"))
	r.Close()
	data, _ := os.ReadFile(r.Path())
	if strings.Contains(string(data), "secret") || !strings.Contains(string(data), "limit") {
		t.Fatalf("exhausted budget recorded %q", data)
	}
}
