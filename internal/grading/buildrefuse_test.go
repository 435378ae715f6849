package grading

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestPlanBuild(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		bases     string // "ref@line ..." of the images the build starts from
		refusedAt []int  // lines of remote-source findings
		mention   string // a word the first finding must hold
	}{
		{name: "plain", src: "FROM opsdojo/base:bookworm\nADD app.tar /app/\nCOPY . /src\n", bases: "opsdojo/base:bookworm@1"},
		{name: "http URL", src: "FROM opsdojo/base:bookworm\nADD http://127.0.0.1:8080/secret /x\n", refusedAt: []int{2}, mention: "curl", bases: "opsdojo/base:bookworm@1"},
		{name: "https URL upper case", src: "FROM opsdojo/base:bookworm\nADD HTTPS://example.org/x /x\n", refusedAt: []int{2}},
		{name: "ftp URL", src: "FROM opsdojo/base:bookworm\nADD ftp://10.0.0.1/x /x\n", refusedAt: []int{2}},
		{name: "git ssh", src: "FROM opsdojo/base:bookworm\nADD git@github.com:o/r.git /r\n", refusedAt: []int{2}},
		{name: "git URL", src: "FROM opsdojo/base:bookworm\nADD git://host/r.git /r\n", refusedAt: []int{2}},
		{name: "JSON form", src: "FROM opsdojo/base:bookworm\nADD [\"local\", \"http://127.0.0.1/x\", \"/d/\"]\n", refusedAt: []int{2}},
		{name: "continued line", src: "FROM opsdojo/base:bookworm\nADD \\\n  http://127.0.0.1/x \\\n  /x\n", refusedAt: []int{2}},
		{name: "ARG-driven URL", src: "ARG U=http://127.0.0.1:9/s\nFROM opsdojo/base:bookworm\nARG U\nADD $U /x\n", refusedAt: []int{4}, mention: "variables"},
		{name: "ENV-driven source", src: "FROM opsdojo/base:bookworm\nENV U=http://127.0.0.1/s\nADD ${U} /x\n", refusedAt: []int{3}},
		{name: "escaped dollar still refused", src: "FROM opsdojo/base:bookworm\nADD \\$U /x\n", refusedAt: []int{2}},
		{name: "ONBUILD ADD URL", src: "FROM opsdojo/base:bookworm\nONBUILD ADD http://127.0.0.1/s /x\n", refusedAt: []int{2}, mention: "ONBUILD"},
		{name: "ONBUILD ADD variable", src: "FROM opsdojo/base:bookworm\nONBUILD ADD $X /x\n", refusedAt: []int{2}},
		{name: "ONBUILD COPY --from", src: "FROM opsdojo/base:bookworm\nONBUILD COPY --from=other /a /b\n", refusedAt: []int{2}},
		{name: "ONBUILD RUN is fine", src: "FROM opsdojo/base:bookworm\nONBUILD RUN echo hi\n", bases: "opsdojo/base:bookworm@1"},
		{name: "RUN --network", src: "FROM opsdojo/base:bookworm\nRUN --network=host curl -s 127.0.0.1:8080\n", refusedAt: []int{2}, mention: "network"},
		{name: "RUN --security", src: "FROM opsdojo/base:bookworm\nRUN --security=insecure true\n", refusedAt: []int{2}},
		// The engine's older parser reads a heredoc's body as instructions:
		// this ADD runs there although BuildKit's parser sees only a RUN.
		{name: "ADD smuggled in a heredoc", src: "FROM opsdojo/base:bookworm\nRUN <<CMD\nADD http://127.0.0.1/s /x\nCMD\n", refusedAt: []int{2, 3}, mention: "heredoc"},
		{name: "any heredoc", src: "FROM opsdojo/base:bookworm\nRUN <<EOF\necho hi\nEOF\n", refusedAt: []int{2}},
		{name: "COPY URL", src: "FROM opsdojo/base:bookworm\nCOPY http://127.0.0.1/x /x\n", refusedAt: []int{2}},
		{
			name:  "stages and COPY --from",
			src:   "FROM opsdojo/base:bookworm AS build\nRUN true\nFROM build AS two\nCOPY --from=build /a /a\nCOPY --from=0 /a /b\nCOPY --from=opsdojo-build/x:y /c /c\nFROM scratch\nCOPY --from=two /a /a\n",
			bases: "opsdojo/base:bookworm@1 opsdojo-build/x:y@6",
		},
		{name: "COPY --from a later stage is an image", src: "FROM opsdojo/base:bookworm\nCOPY --from=later /a /a\nFROM scratch AS later\n", bases: "opsdojo/base:bookworm@1 later@2"},
		{name: "COPY --from variable", src: "FROM opsdojo/base:bookworm\nCOPY --from=$X /a /a\n", refusedAt: []int{2}},
		{name: "FROM ARG default", src: "ARG BASE=opsdojo/base:bookworm\nFROM ${BASE}\n", bases: "opsdojo/base:bookworm@2"},
		{name: "FROM ARG without default", src: "ARG BASE\nFROM $BASE\n", refusedAt: []int{2}, mention: "default"},
		{name: "FROM stage ARG does not count", src: "FROM opsdojo/base:bookworm\nARG B=x\nFROM $B\n", refusedAt: []int{3}},
		{name: "does not parse", src: "FROM opsdojo/base:bookworm\nADD\n", refusedAt: []int{2}},
		{name: "empty", src: "\n\n", refusedAt: []int{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bases, findings, err := PlanBuild(context.Background(), []byte(tc.src), "app/Dockerfile")
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			for _, f := range findings {
				if f.Rule != RuleRemoteSource || f.File != "app/Dockerfile" {
					t.Errorf("finding %+v", f)
				}
				lines = append(lines, f.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.refusedAt) && !(len(lines) == 0 && len(tc.refusedAt) == 0) {
				t.Fatalf("refused at %v, want %v: %+v", lines, tc.refusedAt, findings)
			}
			if tc.mention != "" && !strings.Contains(findings[0].Message, tc.mention) {
				t.Errorf("message %q does not mention %q", findings[0].Message, tc.mention)
			}
			if tc.bases != "" || len(tc.refusedAt) == 0 {
				var got []string
				for _, b := range bases {
					got = append(got, fmt.Sprintf("%s@%d", b.Ref, b.Line))
				}
				if strings.Join(got, " ") != tc.bases {
					t.Fatalf("bases %q, want %q", strings.Join(got, " "), tc.bases)
				}
			}
		})
	}
}

func TestRefuseTrigger(t *testing.T) {
	for expr, refused := range map[string]bool{
		"RUN echo hi":                         false,
		"COPY . /app":                         false,
		"ADD local.tar /x":                    false,
		"ADD http://127.0.0.1:2375/info /x":   true,
		"ADD ${URL} /x":                       true,
		"COPY --from=opsdojo-build/x:y /a /b": true,
		"ADD":                                 true,
		"RUN a\nRUN b":                        true,
	} {
		if got := RefuseTrigger(expr) != ""; got != refused {
			t.Errorf("RefuseTrigger(%q) refused=%v, want %v", expr, got, refused)
		}
	}
}

func FuzzPlanBuild(f *testing.F) {
	f.Add([]byte("FROM opsdojo/base:bookworm\nADD http://x/y /z\nONBUILD ADD $A /b\n"))
	f.Add([]byte("ARG B=opsdojo/base:bookworm\nFROM ${B:-x} AS a\nCOPY --from=a / /\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		bases, findings, err := PlanBuild(context.Background(), src, "Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		// No panic, no error but the grader's own, well-formed bases.
		for _, b := range bases {
			if b.Ref == "" || b.Line < 1 {
				t.Fatalf("base %+v", b)
			}
		}
		_ = findings
	})
}
