package homes

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// engineArchive is 64 files of 1 MiB, half compressible text, half
// random bytes, named the way the engine names them.
func engineArchive(b *testing.B) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "learner/", Typeflag: tar.TypeDir, Mode: 0o755})
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		if i%2 == 0 {
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
		} else {
			copy(body, bytes.Repeat([]byte("log line 12345 ok\n"), len(body)/18+1))
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("learner/f%02d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	return buf.Bytes()
}

// BenchmarkPack: a 64 MiB home into a saved tar.gz (gzip BestSpeed).
func BenchmarkPack(b *testing.B) {
	src := engineArchive(b)
	b.SetBytes(64 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Pack(io.Discard, bytes.NewReader(src), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestore: the same home from its saved tar.gz.
func BenchmarkRestore(b *testing.B) {
	var saved bytes.Buffer
	if _, err := Pack(&saved, bytes.NewReader(engineArchive(b)), DefaultLimits()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Restore(io.Discard, bytes.NewReader(saved.Bytes()), DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}
