package sandbox

import (
	"strings"
	"testing"
)

func TestParseListing(t *testing.T) {
	out := "d 4096 1 app\x00f 12 2 app/Dockerfile\x00l 11 1 link\x00d 4096 1 .git\x00p 0 1 fifo\x00f 3 1 \xff\xfe\x00"
	l := parseListing([]byte(out), 10, 3, false)
	var got []string
	for _, e := range l.Entries {
		got = append(got, e.Type+":"+e.Path)
	}
	if strings.Join(got, " ") != "dir:app file:app/Dockerfile link:link dir:.git other:fifo" || l.Truncated {
		t.Fatalf("entries %v truncated %v", got, l.Truncated)
	}
	if l.Entries[1].Size != 12 {
		t.Fatalf("size %d", l.Entries[1].Size)
	}
	// More entries than the bound, a folder at the depth bound, and output
	// cut mid-record: each marks the listing truncated.
	if l := parseListing([]byte(out), 2, 3, false); len(l.Entries) != 2 || !l.Truncated {
		t.Fatalf("entry bound: %+v", l)
	}
	if l := parseListing([]byte("d 4096 3 a/b/c\x00"), 10, 3, false); !l.Truncated {
		t.Fatalf("depth bound: %+v", l)
	}
	if l := parseListing([]byte("f 1 1 a\x00f 1 1 b"), 10, 3, false); len(l.Entries) != 1 || !l.Truncated {
		t.Fatalf("cut output: %+v", l)
	}
	if l := parseListing(nil, 10, 3, false); len(l.Entries) != 0 || l.Truncated || l.Entries == nil {
		t.Fatalf("empty: %+v", l)
	}
}
