package homes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

type entry struct {
	hdr  tar.Header
	body string
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg && h.Size == 0 {
			h.Size = int64(len(e.body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

type got struct {
	hdr  *tar.Header
	body string
}

func readTar(t *testing.T, r io.Reader) map[string]got {
	t.Helper()
	out := map[string]got{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = got{h, string(b)}
	}
}

func reg(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: 0}, body: body}
}

func dir(name string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

// The engine's archive of /home/learner/. → a saved tar.gz → a restore
// stream: content, modes and links survive; owners become the learner.
func TestPackRestoreRoundTrip(t *testing.T) {
	engine := tarOf(t, []entry{
		dir("learner/"),
		dir("learner/repo/"),
		reg("learner/repo/notes.txt", "hello", 0o640),
		reg("learner/run.sh", "#!/bin/sh\n", 0o755),
		{hdr: tar.Header{Name: "learner/link", Typeflag: tar.TypeSymlink, Linkname: "repo/notes.txt"}},
		{hdr: tar.Header{Name: "learner/hard", Typeflag: tar.TypeLink, Linkname: "learner/run.sh"}},
		{hdr: tar.Header{Name: "learner/fifo", Typeflag: tar.TypeFifo}},
	})
	var saved bytes.Buffer
	st, err := Pack(&saved, bytes.NewReader(engine), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.Skipped != 1 || st.Bytes != int64(len("hello")+len("#!/bin/sh\n")) {
		t.Errorf("stats %+v", st)
	}
	var out bytes.Buffer
	if _, err := Restore(&out, &saved, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	m := readTar(t, &out)
	if g := m["repo/notes.txt"]; g.body != "hello" || g.hdr.Mode != 0o640 || g.hdr.Uid != 1000 || g.hdr.Gid != 1000 {
		t.Errorf("notes: %+v %q", g.hdr, g.body)
	}
	if g := m["run.sh"]; g.hdr.Mode != 0o755 {
		t.Errorf("run.sh mode %o", g.hdr.Mode)
	}
	if g := m["link"]; g.hdr == nil || g.hdr.Typeflag != tar.TypeSymlink || g.hdr.Linkname != "repo/notes.txt" {
		t.Errorf("symlink: %+v", g.hdr)
	}
	if g := m["hard"]; g.hdr == nil || g.hdr.Typeflag != tar.TypeLink || g.hdr.Linkname != "run.sh" {
		t.Errorf("hard link: %+v", g.hdr)
	}
	if _, ok := m["fifo"]; ok {
		t.Error("fifo kept")
	}
	if _, ok := m["repo/"]; !ok {
		t.Errorf("folder missing: %v", m)
	}
}

// A saved home is only as trusted as the disk: every hostile entry is
// left out of the restore stream, and nothing written lands outside the
// home or under a link.
func TestRestoreRefusesHostileEntries(t *testing.T) {
	saved := gz(tarOf(t, []entry{
		reg("../escape", "x", 0o644),
		reg("/etc/passwd", "x", 0o644),
		reg("a/../../escape2", "x", 0o644),
		reg("./dot", "x", 0o644),
		dir("d"),
		reg("d/ok", "fine", 0o644),
		// The folder d, written again as a link: later entries under d
		// would go through it.
		{hdr: tar.Header{Name: "d", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		reg("d/passwd", "owned", 0o644),
		{hdr: tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		reg("etc/shadow", "x", 0o644),
		reg("nodir/file", "x", 0o644), // parent not in the archive (could be a link in the image)
		{hdr: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../etc/passwd"}},
		{hdr: tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}},
		{hdr: tar.Header{Name: "hl2", Typeflag: tar.TypeLink, Linkname: "etc"}},
		{hdr: tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Name: "blk", Typeflag: tar.TypeBlock}},
		reg("suid", "x", 0o4755),
		{hdr: tar.Header{Name: "caps", Typeflag: tar.TypeReg, Size: 1, Mode: 0o755, Uid: 0,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}}, body: "x"},
	}))
	var out bytes.Buffer
	st, err := Restore(&out, bytes.NewReader(saved), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	m := readTar(t, &out)
	for name := range m {
		switch name {
		// d/passwd lands in the real folder d (its link twin was
		// refused); etc is kept as a link, and nothing goes under it.
		case "d/", "d/ok", "d/passwd", "etc", "suid", "caps":
		default:
			t.Errorf("hostile entry %q written", name)
		}
	}
	if m["d/ok"].body != "fine" {
		t.Errorf("safe entry lost: %v", m)
	}
	if h := m["suid"].hdr; h == nil || h.Mode != 0o755 {
		t.Errorf("setuid bit kept: %+v", h)
	}
	if h := m["caps"].hdr; h == nil || len(h.PAXRecords) != 0 || h.Uid != 1000 {
		t.Errorf("xattrs or owner kept: %+v", h)
	}
	if h := m["etc"].hdr; h == nil || h.Typeflag != tar.TypeSymlink {
		t.Errorf("absolute link not kept as a link: %+v", h)
	}
	if st.Skipped != 12 {
		t.Errorf("skipped %d, want 12: %v", st.Skipped, st.SkippedNames)
	}
}

// bodyTrap fails the test if anything reads a file's content.
type bodyTrap struct{ t *testing.T }

func (b bodyTrap) Read([]byte) (int, error) {
	b.t.Error("content of an over-limit entry was read")
	return 0, io.ErrUnexpectedEOF
}

// A huge (sparse) file is refused by its declared size before a byte of
// it is read, and the refusal is a TooLargeError, never a short archive.
func TestPackRefusesOverLimit(t *testing.T) {
	var hdrs bytes.Buffer
	tw := tar.NewWriter(&hdrs)
	tw.WriteHeader(&tar.Header{Name: "./big", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644})
	tw.Flush()
	src := io.MultiReader(bytes.NewReader(hdrs.Bytes()), bodyTrap{t})
	var out bytes.Buffer
	_, err := Pack(&out, src, Limits{MaxBytes: 1 << 20, MaxEntries: 10})
	if !IsTooLarge(err) {
		t.Fatalf("err %v, want too large", err)
	}

	var many []entry
	for i := 0; i < 20; i++ {
		many = append(many, reg("./f"+strings.Repeat("x", i), "", 0o644))
	}
	_, err = Pack(io.Discard, bytes.NewReader(tarOf(t, many)), Limits{MaxBytes: 1 << 20, MaxEntries: 10})
	if !IsTooLarge(err) {
		t.Fatalf("entries: err %v, want too large", err)
	}
	// A gzip bomb in a saved file stops the same way.
	_, err = Restore(io.Discard, bytes.NewReader(gz(tarOf(t, []entry{reg("z", strings.Repeat("0", 2<<20), 0o644)}))), Limits{MaxBytes: 1 << 20, MaxEntries: 10})
	if !IsTooLarge(err) {
		t.Fatalf("restore: err %v, want too large", err)
	}
}

func TestRestoreBrokenArchive(t *testing.T) {
	if _, err := Restore(io.Discard, strings.NewReader("not gzip"), DefaultLimits()); err == nil {
		t.Fatal("no error for a broken archive")
	}
	saved := gz(tarOf(t, []entry{reg("a", "hello", 0o644)}))
	if _, err := Restore(io.Discard, bytes.NewReader(saved[:len(saved)/2]), DefaultLimits()); err == nil {
		t.Fatal("no error for a cut archive")
	}
}

// The previous save stays whole until a new one is complete.
func TestDirWriteKeepsPreviousOnFailure(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	if _, err := d.Write(7, "git-basics", func(w io.Writer) error { _, err := w.Write([]byte("first")); return err }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := d.Write(7, "git-basics", func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	f, err := d.Open(7, "git-basics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "first" {
		t.Errorf("saved home %q after a failed save", b)
	}
	ents, _ := os.ReadDir(d.Root + "/7")
	if len(ents) != 1 {
		t.Errorf("temp files left: %v", ents)
	}
	if _, err := d.Path(7, "../x"); err == nil {
		t.Error("lab id with .. accepted")
	}
}
