package grading_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// FuzzDockerfile grades arbitrary Dockerfiles and .dockerignore files with
// every rule on. Whatever the input: no panic, no grader error, every
// finding names a rule and a line inside its file, at most 200 findings,
// and DockerfileInstructionLines agrees with the file's length.
func FuzzDockerfile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "dockerfile", "*.Dockerfile"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(".git\n*.log\n"))
	}
	for _, s := range []string{
		"",
		"FROM scratch",
		"FROM opsdojo/base:bookworm AS build\nRUN apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*\nFROM scratch\nCOPY --from=build /out/server /app/server\nUSER 10001:10001\nEXPOSE 8080\nHEALTHCHECK CMD [\"/app/server\",\"-healthcheck\"]\nENTRYPOINT [\"/app/server\"]\n",
		"# escape=`\nFROM opsdojo/base:bookworm\nRUN echo `\n  hi\n",
		"ARG A\nARG B=${A:-x}:${A:+y}\nFROM $B AS s\nFROM s\nUSER ${U:-0}\nEXPOSE ${P:-8080}/tcp 1-2\n",
		"FROM x\nRUN <<EOF cat <<EOT\nhello\nEOF\nworld\nEOT\nONBUILD RUN apt-get install x\n",
		"FROM x\nCMD [\"a\", 1]\nENTRYPOINT [\nHEALTHCHECK --interval=1s --retries=-1 CMD x\nHEALTHCHECK NONE x\n",
		"FROM x\nRUN apt-get install -o Dpkg::Options::=\"--force-confold\" 'a b' \"c\\\"d\" $(e) `f` > /dev/null 2>&1 &\n",
		"\ufeffFROM x\r\nCOPY --from=0 . .\r\n\\\r\n",
	} {
		f.Add([]byte(s), []byte(s))
	}
	const with = "path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\nmust_ignore: [.git, .env, logs/server.log]\n"
	f.Fuzz(func(t *testing.T, dockerfile, dockerignore []byte) {
		files := &dfFiles{files: map[string]string{"app/Dockerfile": string(dockerfile), "app/.dockerignore": string(dockerignore)}}
		cr := dfCheck(t, context.Background(), with, files)
		dfAssertSane(t, cr, dockerfile)
		ignoreLines := strings.Count(string(dockerignore), "\n") + 1
		for _, fd := range cr.Findings {
			switch fd.File {
			case "app/Dockerfile":
			case "app/.dockerignore":
				if fd.Rule != grading.DockerfileRuleDockerignore || fd.Line < 0 || fd.Line > ignoreLines {
					t.Fatalf("bad .dockerignore finding %+v (file has %d lines)", fd, ignoreLines)
				}
			default:
				t.Fatalf("finding in an unexpected file: %+v", fd)
			}
		}
		if cr.Status == opsdojo.StatusPass && len(cr.Messages) != 1 {
			t.Fatalf("pass with messages %q", cr.Messages)
		}

		lines, err := grading.DockerfileInstructionLines(dockerfile)
		if err != nil {
			return
		}
		n := strings.Count(string(dockerfile), "\n") + 1
		if !slices.IsSorted(lines) || len(lines) == 0 || lines[0] < 1 || lines[len(lines)-1] > n {
			t.Fatalf("instruction lines %v for a %d-line file", lines, n)
		}
	})
}
