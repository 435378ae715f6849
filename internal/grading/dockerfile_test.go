package grading_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// dfFiles is a learner home in memory; errs makes a path fail with an
// error. limits records the read limits asked for.
type dfFiles struct {
	files  map[string]string
	errs   map[string]error
	limits []int64
}

func (f *dfFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	f.limits = append(f.limits, limit)
	if err, ok := f.errs[name]; ok {
		return nil, err
	}
	s, ok := f.files[name]
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	if int64(len(s)) > limit {
		return nil, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the grader reads at most %d", name, len(s), limit)
	}
	return []byte(s), nil
}

func (f *dfFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return errors.New("dockerfile checks never archive")
}

func dfRunner() *grading.Runner {
	r := grading.NewRunner(slog.New(slog.DiscardHandler))
	r.Register("dockerfile", grading.DockerfileChecker{})
	return r
}

var dfLab = &labs.Lab{ID: "dockerfile-go-service"}

// dfCheck grades files with one dockerfile check whose with: block is with.
func dfCheck(t testing.TB, ctx context.Context, with string, files grading.Files) opsdojo.CheckResult {
	t.Helper()
	return dfCheckWithin(t, ctx, with, files, 20*time.Second)
}

// dfCheckWithin is dfCheck with the check's timeout.
func dfCheckWithin(t testing.TB, ctx context.Context, with string, files grading.Files, timeout time.Duration) opsdojo.CheckResult {
	t.Helper()
	chk := labs.Check{ID: "dockerfile-rules", Title: "Dockerfile rules", Kind: "dockerfile", Points: 1, With: []byte(with), Timeout: timeout}
	step := labs.Step{ID: "s", Title: "S", Checks: []labs.Check{chk}}
	res := dfRunner().RunStep(ctx, dfLab, step, grading.Target{Files: files})
	if len(res.Checks) != 1 {
		t.Fatalf("got %d check results", len(res.Checks))
	}
	return res.Checks[0]
}

// dfGrade grades a Dockerfile at app/Dockerfile (and a .dockerignore when
// dockerignore is not nil) with the given with: block.
func dfGrade(t testing.TB, with, dockerfile string, dockerignore *string) opsdojo.CheckResult {
	t.Helper()
	files := &dfFiles{files: map[string]string{"app/Dockerfile": dockerfile}}
	if dockerignore != nil {
		files.files["app/.dockerignore"] = *dockerignore
	}
	return dfCheck(t, context.Background(), with, files)
}

// dfFound renders findings as "line:rule" (Dockerfile) or
// "file:line:rule" (other files), sorted.
func dfFound(cr opsdojo.CheckResult) []string {
	out := []string{}
	for _, f := range cr.Findings {
		if f.File == "app/Dockerfile" {
			out = append(out, fmt.Sprintf("%d:%s", f.Line, f.Rule))
		} else {
			out = append(out, fmt.Sprintf("%s:%d:%s", f.File, f.Line, f.Rule))
		}
	}
	slices.Sort(out)
	return out
}

func dfReadTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dockerfile", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dfLines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestDockerfileRules(t *testing.T) {
	const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	type tc struct {
		name  string
		rules string // the rules: list, e.g. "[pinned-base]"
		src   string
		want  []string // "line:rule", any order
		// msg, when set, must appear in the first finding's message.
		msg string
	}
	tests := []tc{
		// pinned-base
		{"pinned tag", "[pinned-base]", dfLines("FROM opsdojo/base:bookworm"), nil, ""},
		{"pinned digest", "[pinned-base]", dfLines("FROM opsdojo/base@sha256:" + hex64), nil, ""},
		{"scratch", "[pinned-base]", dfLines("FROM scratch"), nil, ""},
		{"stage reference", "[pinned-base]", dfLines("FROM opsdojo/base:bookworm AS build", "FROM build"), nil, ""},
		{"stage reference other case", "[pinned-base]", dfLines("FROM opsdojo/base:bookworm AS build", "FROM BUILD"), nil, ""},
		{"ARG default pinned", "[pinned-base]", dfLines("ARG BASE=opsdojo/base:bookworm", "FROM ${BASE}"), nil, ""},
		{"ARG default from ARG", "[pinned-base]", dfLines("ARG TAG=bookworm", "ARG BASE=opsdojo/base:${TAG}", "FROM $BASE AS b"), nil, ""},
		{"registry with port pinned", "[pinned-base]", dfLines("FROM localhost:5000/base:1.0"), nil, ""},
		{"untagged", "[pinned-base]", dfLines("FROM opsdojo/base"), []string{"1:pinned-base"}, "names no tag"},
		{"latest any case", "[pinned-base]", dfLines("FROM opsdojo/base:bookworm", "FROM debian:LaTeSt"), []string{"2:pinned-base"}, "latest"},
		{"ARG default latest", "[pinned-base]", dfLines("ARG BASE=debian:latest", "FROM $BASE"), []string{"2:pinned-base"}, "by its ARG default"},
		{"ARG without default", "[pinned-base]", dfLines("ARG BASE", "FROM ${BASE}"), []string{"2:pinned-base"}, "no default"},
		{"registry with port untagged", "[pinned-base]", dfLines("FROM localhost:5000/base"), []string{"1:pinned-base"}, ""},
		{"later stage is no reference", "[pinned-base]", dfLines("FROM build", "FROM opsdojo/base:bookworm AS build"), []string{"1:pinned-base"}, ""},
		{"every FROM", "[pinned-base]", dfLines("FROM golang AS build", "FROM debian:latest AS test", "FROM alpine"), []string{"1:pinned-base", "2:pinned-base", "3:pinned-base"}, ""},

		// multi-stage
		{"two stages", "[multi-stage]", dfReadTestdataNoT("good.Dockerfile"), nil, ""},
		{"single stage", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm", "COPY server /app/server"), []string{"1:multi-stage"}, "single stage"},
		{"single stage with toolchain", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm", "RUN apt-get update && apt-get install -y golang-go"), []string{"1:multi-stage", "2:multi-stage"}, ""},
		{"final installs gcc", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS build", "RUN echo build", "FROM opsdojo/base:bookworm", "COPY --from=build /x /x", "RUN apt-get update && apt-get install -y --no-install-recommends gcc make"), []string{"5:multi-stage"}, "installs `gcc`"},
		{"final compiles", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS build", "FROM opsdojo/base:bookworm", "COPY --from=build /x /x", "RUN go build ./..."), []string{"4:multi-stage"}, "go build"},
		{"final FROM golang", "[multi-stage]", dfLines("FROM golang:1.22 AS build", "RUN go build -o /x .", "FROM GoLang:1.22", "COPY --from=build /x /x"), []string{"3:multi-stage"}, "compiler image"},
		{"final builds on toolchain stage", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS build", "RUN apt-get update && apt-get install -y golang-go", "FROM build", `CMD ["/x"]`), []string{"3:multi-stage"}, "builds on stage"},
		{"final copies nothing", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS build", "RUN true", "FROM scratch", "COPY server /server"), []string{"3:multi-stage"}, "never copies"},
		{"COPY --from an image is no artefact", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS b", "FROM scratch", "COPY --from=busybox:1.36 /bin/busybox /busybox"), []string{"2:multi-stage"}, ""},
		{"COPY --from by index", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm", "RUN true", "FROM scratch", "COPY --from=0 /x /x"), nil, ""},
		{"runtime stage chain", "[multi-stage]", dfLines("FROM opsdojo/base:bookworm AS build", "RUN apt-get update && apt-get install -y golang-go", "FROM opsdojo/base:bookworm AS runtime", "RUN useradd app", "FROM runtime", "COPY --from=build /x /x"), nil, ""},

		// non-root-user
		{"named user", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "RUN useradd app", "USER app"), nil, ""},
		{"numeric user on scratch", "[non-root-user]", dfLines("FROM scratch", "USER 10001:10001"), nil, ""},
		{"no USER", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", `CMD ["x"]`), []string{"1:non-root-user"}, "never sets USER"},
		{"root at the end", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "USER app", "RUN true", "USER root"), []string{"4:non-root-user"}, "root"},
		{"uid 0:0", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "USER 0:0"), []string{"2:non-root-user"}, ""},
		{"ROOT in capitals", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "user ROOT"), []string{"2:non-root-user"}, ""},
		{"root then user", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "USER root", "RUN apt-get update", "USER app"), nil, ""},
		{"USER only in build stage", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm AS build", "USER app", "FROM opsdojo/base:bookworm", "COPY --from=build /x /x"), []string{"3:non-root-user"}, ""},
		{"USER inherited from stage", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm AS base", "USER app", "FROM base"), nil, ""},
		{"USER from ARG 0", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "ARG UID=0", "USER ${UID}"), []string{"3:non-root-user"}, ""},
		{"USER from unset ARG", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "ARG UID", "USER $UID"), []string{"3:non-root-user"}, "no default"},
		{"USER from meta ARG", "[non-root-user]", dfLines("ARG UID=10001", "FROM scratch", "ARG UID", "USER $UID:$UID"), nil, ""},
		{"USER from an empty ENV", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "ENV APP_USER=", "USER ${APP_USER}"), []string{"3:non-root-user"}, ""},
		{"USER from ENV", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm", "ENV APP_USER=app", "USER ${APP_USER}"), nil, ""},
		{"named user on scratch", "[non-root-user]", dfLines("FROM scratch", "USER app"), []string{"2:non-root-user"}, "no /etc/passwd"},
		{"named user on scratch with passwd", "[non-root-user]", dfLines("FROM opsdojo/base:bookworm AS build", "FROM scratch", "COPY --from=build /etc/passwd /etc/passwd", "USER app"), nil, ""},

		// copy-not-add
		{"ADD a URL", "[copy-not-add]", dfLines("FROM scratch", "ADD https://example.com/x.tgz /x", "ADD HTTP://EXAMPLE.COM/y /y"), nil, ""},
		{"ADD local files", "[copy-not-add]", dfLines("FROM scratch", "ADD app.tar.gz /app/", "COPY a /a", "add --chown=1:1 main.go /src/"), []string{"2:copy-not-add", "4:copy-not-add"}, "use COPY"},
		{"ADD URL and file", "[copy-not-add]", dfLines("FROM scratch", "ADD https://example.com/x local /d/"), []string{"2:copy-not-add"}, "`local`"},

		// exec-form
		{"exec form", "[exec-form]", dfLines("FROM scratch", `ENTRYPOINT ["/app/server"]`, `CMD ["-addr", ":8080"]`), nil, ""},
		{"shell form", "[exec-form]", dfLines("FROM scratch", "CMD /app/server", "ENTRYPOINT /app/server -addr :8080"), []string{"2:exec-form", "3:exec-form"}, `CMD ["/app/server"]`},
		{"single quotes are not JSON", "[exec-form]", dfLines("FROM opsdojo/base:bookworm", "CMD ['/app/server']"), []string{"2:exec-form"}, "not valid JSON"},
		{"shell form in a build stage", "[exec-form]", dfLines("FROM opsdojo/base:bookworm AS build", "cmd make", "FROM scratch", `CMD ["/x"]`), []string{"2:exec-form"}, ""},

		// healthcheck
		{"healthcheck", "[healthcheck]", dfLines("FROM scratch", `HEALTHCHECK --interval=2s CMD ["/app/server", "-healthcheck"]`), nil, ""},
		{"healthcheck shell form on Debian", "[healthcheck]", dfLines("FROM opsdojo/base:bookworm", "HEALTHCHECK CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1"), nil, ""},
		{"no healthcheck", "[healthcheck]", dfLines("FROM scratch", "COPY x /x"), []string{"1:healthcheck"}, "no HEALTHCHECK"},
		{"healthcheck none", "[healthcheck]", dfLines("FROM opsdojo/base:bookworm", "HEALTHCHECK NONE"), []string{"2:healthcheck"}, "NONE"},
		{"none after a check", "[healthcheck]", dfLines("FROM opsdojo/base:bookworm", `HEALTHCHECK CMD ["/x"]`, "healthcheck none"), []string{"3:healthcheck"}, ""},
		{"healthcheck in build stage only", "[healthcheck]", dfLines("FROM opsdojo/base:bookworm AS build", `HEALTHCHECK CMD ["/x"]`, "FROM scratch", "COPY --from=build /x /x"), []string{"3:healthcheck"}, ""},
		{"healthcheck inherited", "[healthcheck]", dfLines("FROM opsdojo/base:bookworm AS base", `HEALTHCHECK CMD ["/x"]`, "FROM base"), nil, ""},
		{"shell healthcheck on scratch", "[healthcheck]", dfLines("FROM scratch", "HEALTHCHECK CMD curl -f http://localhost:8080/healthz"), []string{"2:healthcheck"}, "no shell"},

		// legacy-builder
		{"classic builder flags", "[legacy-builder]", dfLines("FROM opsdojo/base:bookworm AS b", "FROM scratch", "COPY --from=b --chown=1:1 /x /x"), nil, ""},
		{"heredoc", "[legacy-builder]", dfLines("FROM opsdojo/base:bookworm", "RUN <<EOF", "echo hi", "EOF", `CMD ["x"]`), []string{"2:legacy-builder"}, "heredoc"},
		{"BuildKit flags", "[legacy-builder]", dfLines("FROM opsdojo/base:bookworm", "RUN --mount=type=cache,target=/root/.cache go build", "COPY --chmod=755 a /a", "COPY --link b /b", "ADD --checksum=sha256:"+hex64+" https://example.com/x /x"), []string{"2:legacy-builder", "3:legacy-builder", "4:legacy-builder", "5:legacy-builder"}, "--mount"},

		// syntax, always reported
		{"unknown instruction", "[exec-form]", dfLines("FROM scratch", "FORM x", `CMD ["x"]`), []string{"2:syntax"}, "not a Dockerfile instruction"},
		{"FROM without image", "[exec-form]", dfLines("FROM", `CMD ["x"]`), []string{"1:syntax"}, ""},
		{"instruction before FROM", "[exec-form]", dfLines("COPY a b", "FROM scratch"), []string{"1:syntax"}, "before the first FROM"},
		{"only ARG", "[exec-form]", dfLines("ARG X=1"), []string{"1:syntax"}, "no FROM"},
		{"flag in capitals", "[exec-form]", dfLines("FROM opsdojo/base:bookworm AS b", "FROM scratch", "COPY --FROM=b /x /x"), []string{"3:syntax"}, "--from"},
		{"bad healthcheck interval", "[healthcheck]", dfLines("FROM scratch", `HEALTHCHECK --interval=soon CMD ["/x"]`), []string{"1:healthcheck", "2:syntax"}, ""},
		{"every syntax error", "[exec-form]", dfLines("FROM scratch", "FORM x", "COPY onlyone", "EXPOSE", `CMD ["x"]`), []string{"2:syntax", "3:syntax", "4:syntax"}, ""},
		{"line over 64 KiB", "[exec-form]", dfLines("FROM scratch", "RUN true", "RUN echo "+strings.Repeat("a", 70_000), `CMD ["x"]`), []string{"3:syntax"}, "longer than 64 KiB"},
		{"comments only", "[exec-form]", dfLines("# nothing here", "# yet"), []string{"2:syntax"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := dfGrade(t, "path: app/Dockerfile\nrules: "+tt.rules+"\n", tt.src, nil)
			got := dfFound(cr)
			want := slices.Clone(tt.want)
			if want == nil {
				want = []string{}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("findings = %v, want %v\n%s", got, want, dfDump(cr))
			}
			wantStatus := opsdojo.StatusFail
			if len(want) == 0 {
				wantStatus = opsdojo.StatusPass
			}
			if cr.Status != wantStatus {
				t.Fatalf("status = %s, want %s: %v", cr.Status, wantStatus, cr.Messages)
			}
			if tt.msg != "" && !strings.Contains(cr.Findings[0].Message, tt.msg) {
				t.Fatalf("message %q does not mention %q", cr.Findings[0].Message, tt.msg)
			}
			for _, f := range cr.Findings {
				if f.File != "app/Dockerfile" || len(f.Message) < 40 {
					t.Fatalf("finding without file or a teaching message: %+v", f)
				}
			}
		})
	}
}

// dfReadTestdataNoT reads a testdata Dockerfile for a table.
func dfReadTestdataNoT(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", "dockerfile", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dfDump(cr opsdojo.CheckResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %s, messages %q\n", cr.Status, cr.Messages)
	for _, f := range cr.Findings {
		fmt.Fprintf(&b, "  %s:%d [%s] %s\n", f.File, f.Line, f.Rule, f.Message)
	}
	return b.String()
}

func TestDockerfileAptHygiene(t *testing.T) {
	const ok = "apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*"
	tests := []struct {
		name string
		runs []string // RUN lines after FROM (line 2 onwards)
		want []string // kinds of problem per line: "2:update", "2:yes", "2:recommends", "2:lists"
	}{
		{"all good", []string{"RUN " + ok}, nil},
		{"all good, continued lines", []string{"RUN apt-get update \\", " && apt-get install -y --no-install-recommends \\", "      curl git \\", " && rm -rf /var/lib/apt/lists/*"}, nil},
		{"all good, other spellings", []string{`RUN set -eux; sudo apt-get -qq update; DEBIAN_FRONTEND=noninteractive apt-get install -qy -o APT::Install-Recommends=false curl >/dev/null 2>&1; rm -r -f "/var/lib/apt/lists/"*`}, nil},
		{"apt instead of apt-get", []string{"RUN apt update && apt install --yes --no-install-recommends curl && rm -rf /var/lib/apt/lists"}, nil},
		{"sh -c exec form", []string{`RUN ["sh", "-c", "` + ok + `"]`}, nil},
		{"no apt at all", []string{"RUN echo 'apt-get install foo' && go build ./..."}, nil},
		{"update only", []string{"RUN apt-get update"}, nil},
		{"no lists removal", []string{"RUN apt-get update && apt-get install -y --no-install-recommends curl"}, []string{"2:lists"}},
		{"lists removed in a later RUN", []string{"RUN apt-get update && apt-get install -y --no-install-recommends curl", "RUN rm -rf /var/lib/apt/lists/*"}, []string{"2:lists"}},
		{"lists removed before install", []string{"RUN rm -rf /var/lib/apt/lists/* && apt-get update && apt-get install -y --no-install-recommends curl"}, []string{"2:lists"}},
		{"update in an earlier RUN", []string{"RUN apt-get update", "RUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*"}, []string{"3:update"}},
		{"recommends", []string{"RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"}, []string{"2:recommends"}},
		{"no -y", []string{"RUN apt-get update && apt-get install --no-install-recommends curl && rm -rf /var/lib/apt/lists/*"}, []string{"2:yes"}},
		{"everything wrong", []string{"RUN apt-get install golang-go"}, []string{"2:update", "2:yes", "2:recommends", "2:lists"}},
		{"exec form", []string{`RUN ["apt-get", "install", "-y", "curl"]`}, []string{"2:update", "2:recommends", "2:lists"}},
		{"each RUN on its own", []string{"RUN " + ok, "RUN apt-get update && apt-get install -y git", "RUN " + ok}, []string{"3:recommends", "3:lists"}},
		{"two installs, one without flags", []string{"RUN apt-get update && apt-get install -y --no-install-recommends curl && apt-get install git && rm -rf /var/lib/apt/lists/*"}, []string{"2:yes", "2:recommends"}},
	}
	kind := func(msg string) string {
		switch {
		case strings.Contains(msg, "update` before it"):
			return "update"
		case strings.Contains(msg, "without `-y`"):
			return "yes"
		case strings.Contains(msg, "--no-install-recommends` also"):
			return "recommends"
		case strings.Contains(msg, "package lists"):
			return "lists"
		}
		return "?" + msg
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := dfLines(append([]string{"FROM opsdojo/base:bookworm"}, tt.runs...)...)
			cr := dfGrade(t, "path: app/Dockerfile\nrules: [apt-hygiene]\n", src, nil)
			got := []string{}
			for _, f := range cr.Findings {
				if f.Rule != grading.DockerfileRuleAptHygiene {
					t.Fatalf("unexpected finding %+v", f)
				}
				got = append(got, fmt.Sprintf("%d:%s", f.Line, kind(f.Message)))
			}
			want := append([]string{}, tt.want...)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("findings = %v, want %v\n%s", got, want, dfDump(cr))
			}
		})
	}
}

func TestDockerfileExpose(t *testing.T) {
	tests := []struct {
		name  string
		final []string
		ok    bool
	}{
		{"plain", []string{"EXPOSE 8080"}, true},
		{"tcp", []string{"EXPOSE 8080/TCP"}, true},
		{"several", []string{"EXPOSE 80 8080/tcp 9090"}, true},
		{"range", []string{"EXPOSE 8000-8100"}, true},
		{"from ENV", []string{"ENV PORT=8080", "EXPOSE ${PORT}"}, true},
		{"from meta ARG", []string{"ARG PORT", "EXPOSE $PORT"}, true},
		{"missing", []string{`CMD ["/x"]`}, false},
		{"other port", []string{"EXPOSE 80"}, false},
		{"udp", []string{"EXPOSE 8080/udp"}, false},
		{"unset variable", []string{"EXPOSE $NOPE"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := dfLines(append([]string{"ARG PORT=8080", "FROM opsdojo/base:bookworm AS build", "EXPOSE 8080", "FROM scratch"}, tt.final...)...)
			cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\nrules: [expose]\n", src, nil)
			want := []string{"4:expose"}
			if tt.ok {
				want = []string{}
			}
			if got := dfFound(cr); !slices.Equal(got, want) {
				t.Fatalf("findings = %v, want %v\n%s", got, want, dfDump(cr))
			}
		})
	}
}

func TestDockerfileDockerignore(t *testing.T) {
	str := func(s string) *string { return &s }
	const with = "path: app/Dockerfile\nrules: [dockerignore]\ndockerignore: app/.dockerignore\n"
	tests := []struct {
		name   string
		with   string
		ignore *string
		want   []string
		msg    string
	}{
		{"missing", with, nil, []string{"app/.dockerignore:0:dockerignore"}, "does not exist yet"},
		{"git", with, str(".git\n"), nil, ""},
		{"git with slashes and comments", with, str("# build context hygiene\n/.git/\n"), nil, ""},
		{"any depth", with, str("**/.git\n"), nil, ""},
		{"dot files", with, str(".*\n"), nil, ""},
		{"allow list", with, str("*\n!main.go\n!go.mod\n"), nil, ""},
		{"CRLF", with, str("*.log\r\n.git\r\n"), nil, ""},
		{"no git", with, str("*.log\nbin/\n"), []string{"app/.dockerignore:0:dockerignore"}, "does not exclude .git"},
		{"git brought back", with, str(".git\n*.log\n!.git\n"), []string{"app/.dockerignore:3:dockerignore"}, "brings .git back"},
		{"malformed pattern", with, str("[\n.git\n"), []string{"app/.dockerignore:1:dockerignore"}, "malformed"},
		{"empty file", with, str(""), []string{"app/.dockerignore:0:dockerignore"}, ""},
		{"must_ignore", with + "must_ignore: [.git, .env, server.log, bin/server]\n", str(".git\n*.log\nbin\n"), []string{"app/.dockerignore:0:dockerignore"}, "does not exclude .env"},
		{"must_ignore all there", with + "must_ignore: [.git, .env, server.log, bin/server]\n", str(".git\n.env\n*.log\nbin/\n"), nil, ""},
		{"binary", with, str("\x00\x01\x02"), []string{"app/.dockerignore:1:dockerignore"}, "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := dfGrade(t, tt.with, dfLines("FROM scratch"), tt.ignore)
			got := dfFound(cr)
			want := append([]string{}, tt.want...)
			if !slices.Equal(got, want) {
				t.Fatalf("findings = %v, want %v\n%s", got, want, dfDump(cr))
			}
			if tt.msg != "" && !strings.Contains(cr.Findings[0].Message, tt.msg) {
				t.Fatalf("message %q does not mention %q", cr.Findings[0].Message, tt.msg)
			}
		})
	}
}

// badDockerfileFindings is every problem of testdata/dockerfile/bad.Dockerfile
// with all rules on.
var badDockerfileFindings = []string{
	"1:pinned-base", "1:multi-stage", "1:non-root-user", "1:healthcheck", "1:expose",
	"2:apt-hygiene", "2:apt-hygiene", "2:apt-hygiene", "2:apt-hygiene", "2:multi-stage",
	"3:copy-not-add", "5:multi-stage", "6:exec-form",
}

func TestDockerfileEveryProblemReported(t *testing.T) {
	src := dfReadTestdata(t, "bad.Dockerfile")
	cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\n", src, nil)
	want := append(slices.Clone(badDockerfileFindings), "app/.dockerignore:0:dockerignore")
	slices.Sort(want)
	if got := dfFound(cr); !slices.Equal(got, want) {
		t.Fatalf("findings = %v\nwant       %v\n%s", got, want, dfDump(cr))
	}
	if cr.Status != opsdojo.StatusFail || cr.Points != 0 {
		t.Fatalf("status %s points %v", cr.Status, cr.Points)
	}
	if want := "13 problems in app/Dockerfile, 1 in app/.dockerignore"; !slices.Contains(cr.Messages, want) {
		t.Fatalf("messages = %q, want %q", cr.Messages, want)
	}
	// Findings come in line order, the Dockerfile's first.
	for i := 1; i < len(cr.Findings); i++ {
		a, b := cr.Findings[i-1], cr.Findings[i]
		if a.File == b.File && a.Line > b.Line || a.File != "app/Dockerfile" && b.File == "app/Dockerfile" {
			t.Fatalf("findings out of order at %d: %+v then %+v", i, a, b)
		}
	}

	// Only the rules a check names are enforced.
	cr = dfGrade(t, "path: app/Dockerfile\nrules: [pinned-base, exec-form]\n", src, nil)
	if got, want := dfFound(cr), []string{"1:pinned-base", "6:exec-form"}; !slices.Equal(got, want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	if !slices.Contains(cr.Messages, "2 problems in app/Dockerfile") {
		t.Fatalf("messages = %q", cr.Messages)
	}
}

func TestDockerfileGoodPasses(t *testing.T) {
	ignore := ".git\n*.log\n.env\n"
	for _, name := range []string{"good.Dockerfile", "realistic.Dockerfile"} {
		cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\n", dfReadTestdata(t, name), &ignore)
		if cr.Status != opsdojo.StatusPass || len(cr.Findings) != 0 || cr.Points != 1 {
			t.Fatalf("%s: %s", name, dfDump(cr))
		}
		if len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], "pinned-base, multi-stage") {
			t.Fatalf("%s: pass message %q", name, cr.Messages)
		}
	}
}

func TestDockerfileCaseInsensitive(t *testing.T) {
	src := dfLines(
		"arg base=opsdojo/base:bookworm",
		"from ${base} as Build",
		"run apt-get update && apt-get install -y --NO-INSTALL-RECOMMENDS golang-go && rm -rf /var/lib/apt/lists/*",
		"copy main.go go.mod /src/",
		"run cd /src && CGO_ENABLED=0 go build -o /out/server .",
		"From SCRATCH AS Final",
		"Copy --from=BUILD /out/server /app/server",
		"expose 8080/TCP",
		"user 10001",
		`healthcheck --interval=2s cmd ["/app/server", "-healthcheck"]`,
		`entrypoint ["/app/server"]`,
	)
	cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\n", src, nil)
	if cr.Status != opsdojo.StatusPass {
		t.Fatalf("lower-case Dockerfile: %s", dfDump(cr))
	}
	// And the same mistakes are found whatever their case.
	upper := strings.ToUpper(dfReadTestdata(t, "bad.Dockerfile"))
	lower := strings.ToLower(dfReadTestdata(t, "bad.Dockerfile"))
	for _, src := range []string{upper, lower} {
		cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\n", src, nil)
		if got := dfFound(cr); !slices.Equal(got, dfSorted(badDockerfileFindings)) {
			t.Fatalf("findings = %v, want %v\n%s", got, badDockerfileFindings, dfDump(cr))
		}
	}
}

func dfSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestDockerfileDisableCommentsIgnored(t *testing.T) {
	disable := []string{
		"# hadolint ignore=DL3006,DL3007,DL3008,DL3009,DL3015,DL3020,DL3025,DL3002",
		"# opsdojo:disable",
		"# opsdojo:disable-next-line pinned-base multi-stage",
		"# check=skip=all",
		"# nolint",
	}
	var b strings.Builder
	// A parser directive at the top, then the disable comments before
	// every line: original line n moves to 2+6n.
	b.WriteString("# check=skip=all\n# opsdojo:disable-file\n")
	for _, l := range strings.Split(strings.TrimSuffix(dfReadTestdata(t, "bad.Dockerfile"), "\n"), "\n") {
		for _, d := range disable {
			b.WriteString(d + "\n")
		}
		b.WriteString(l + "\n")
	}
	cr := dfGrade(t, "path: app/Dockerfile\nport: 8080\n", b.String(), nil)
	var want []string
	for _, f := range badDockerfileFindings {
		var n int
		var rule string
		fmt.Sscanf(strings.Replace(f, ":", " ", 1), "%d %s", &n, &rule)
		want = append(want, fmt.Sprintf("%d:%s", 2+6*n, rule))
	}
	if got := dfFound(cr); !slices.Equal(got, dfSorted(want)) {
		t.Fatalf("disable comments changed the findings:\n got %v\nwant %v\n%s", got, dfSorted(want), dfDump(cr))
	}
}

func TestDockerfileFileProblems(t *testing.T) {
	const with = "path: app/Dockerfile\n"
	t.Run("missing", func(t *testing.T) {
		files := &dfFiles{files: map[string]string{}}
		cr := dfCheck(t, context.Background(), with, files)
		if cr.Status != opsdojo.StatusFail || len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], "app/Dockerfile does not exist yet") {
			t.Fatalf("%s", dfDump(cr))
		}
		if !slices.Equal(files.limits, []int64{1 << 20}) {
			t.Fatalf("read limits = %v, want 1 MiB", files.limits)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		files := &dfFiles{errs: map[string]error{"app/Dockerfile": opsdojo.Errorf(opsdojo.EINVALID, "app/Dockerfile is a symlink that points outside your folder")}}
		cr := dfCheck(t, context.Background(), with, files)
		if cr.Status != opsdojo.StatusFail || !slices.Contains(cr.Messages, "app/Dockerfile is a symlink that points outside your folder") {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("engine trouble is a grader error", func(t *testing.T) {
		files := &dfFiles{errs: map[string]error{"app/Dockerfile": opsdojo.Errorf(opsdojo.EUNAVAILABLE, "engine down")}}
		cr := dfCheck(t, context.Background(), with, files)
		if cr.Status != opsdojo.StatusError || cr.Points != 0 {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("dockerignore trouble is a grader error", func(t *testing.T) {
		files := &dfFiles{files: map[string]string{"app/Dockerfile": "FROM scratch\n"}, errs: map[string]error{"app/.dockerignore": errors.New("exec failed")}}
		cr := dfCheck(t, context.Background(), with+"rules: [dockerignore]\ndockerignore: app/.dockerignore\n", files)
		if cr.Status != opsdojo.StatusError {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("misconfigured check is a grader error", func(t *testing.T) {
		cr := dfCheck(t, context.Background(), "path: app/Dockerfile\nrules: [nope]\n", &dfFiles{files: map[string]string{"app/Dockerfile": "FROM scratch\n"}})
		if cr.Status != opsdojo.StatusError {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("no files", func(t *testing.T) {
		cr := dfCheck(t, context.Background(), with, nil)
		if cr.Status != opsdojo.StatusError {
			t.Fatalf("%s", dfDump(cr))
		}
	})

	// The real folder reader: large files, symlinks out, folders.
	root := t.TempDir()
	outside := t.TempDir()
	app := filepath.Join(root, "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := grading.DirFiles{Root: root}
	t.Run("50 MB file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(app, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(50 << 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		defer os.Remove(filepath.Join(app, "Dockerfile"))
		cr := dfCheck(t, context.Background(), with, dir)
		if cr.Status != opsdojo.StatusFail || !strings.Contains(strings.Join(cr.Messages, " "), "at most 1048576") {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("symlink out of the home", func(t *testing.T) {
		secret := filepath.Join(outside, "Dockerfile")
		os.WriteFile(secret, []byte("FROM scratch\n"), 0o644)
		if err := os.Symlink(secret, filepath.Join(app, "Dockerfile")); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(app, "Dockerfile"))
		cr := dfCheck(t, context.Background(), with, dir)
		if cr.Status != opsdojo.StatusFail || !strings.Contains(strings.Join(cr.Messages, " "), "outside your folder") {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("a folder", func(t *testing.T) {
		if err := os.Mkdir(filepath.Join(app, "Dockerfile"), 0o755); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(filepath.Join(app, "Dockerfile"))
		cr := dfCheck(t, context.Background(), with, dir)
		if cr.Status != opsdojo.StatusFail || !strings.Contains(strings.Join(cr.Messages, " "), "not a regular file") {
			t.Fatalf("%s", dfDump(cr))
		}
	})
	t.Run("missing on disk", func(t *testing.T) {
		cr := dfCheck(t, context.Background(), with, dir)
		if cr.Status != opsdojo.StatusFail || !strings.Contains(cr.Messages[0], "app/Dockerfile does not exist yet") {
			t.Fatalf("%s", dfDump(cr))
		}
	})
}

func TestDockerfileBadInput(t *testing.T) {
	const with = "path: app/Dockerfile\nport: 8080\n"
	long := "RUN echo " + strings.Repeat("a", 100_000)
	nested := "CMD " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000)
	var many strings.Builder
	many.WriteString("FROM opsdojo/base:bookworm\nRUN apt-get update \\\n")
	for i := 0; i < 30_000; i++ {
		many.WriteString(" && apt-get install -y x \\\n")
	}
	many.WriteString(" && true\n")
	tests := []struct {
		name string
		src  string
		// want: the rules of the findings (sorted, deduplicated)
		want []string
	}{
		{"empty", "", []string{"syntax"}},
		{"blank", "\n\n   \n\t\n", []string{"syntax"}},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00", []string{"syntax"}},
		{"not UTF-8", "FROM opsdojo/base:bookworm\nRUN echo \xff\xfe\xfd\nCMD /bin/\xff\xc3\n", []string{"exec-form", "expose", "healthcheck", "multi-stage", "non-root-user"}},
		{"line over 64 KiB", dfLines("FROM scratch", long), []string{"syntax"}},
		{"line over 64 KiB, then more", dfLines("FROM scratch", "RUN true", long, "RUN true"), []string{"syntax"}},
		{"deep brackets", dfLines("FROM scratch", nested), []string{"exec-form", "expose", "healthcheck", "multi-stage", "non-root-user"}},
		{"30,000 continuation lines", many.String(), []string{"apt-hygiene", "expose", "healthcheck", "multi-stage", "non-root-user"}},
		{"BOM and CRLF", "\ufeffFROM opsdojo/base:bookworm AS b\r\nRUN true\r\nFROM scratch\r\nCOPY --from=b /x /x\r\nUSER 1\r\nEXPOSE 8080\r\nHEALTHCHECK CMD [\"/x\"]\r\nCMD [\"/x\"]\r\n", []string{}},
		{"unterminated heredoc", dfLines("FROM scratch", "RUN <<EOF", "echo"), []string{"syntax"}},
		{"bad escape directive", dfLines("# escape=x", "FROM scratch"), []string{"syntax"}},
		{"backtick escape", dfLines("# escape=`", "FROM opsdojo/base:bookworm AS b", "RUN apt-get update `", "  && apt-get install -y --no-install-recommends curl `", "  && rm -rf /var/lib/apt/lists/*", "FROM scratch", "COPY --from=b /x /x", "USER 1", "EXPOSE 8080", `HEALTHCHECK CMD ["/x"]`), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpu := dfCPU(t)
			cr := dfGrade(t, with, tt.src, nil)
			if d := dfCPU(t) - cpu; d > dfSlowdown*2*time.Second {
				t.Errorf("took %s of CPU", d)
			}
			rules := []string{}
			for _, f := range cr.Findings {
				if !slices.Contains(rules, f.Rule) {
					rules = append(rules, f.Rule)
				}
			}
			slices.Sort(rules)
			if !slices.Equal(rules, tt.want) {
				t.Fatalf("rules = %v, want %v\n%s", rules, tt.want, dfClip(dfDump(cr)))
			}
			dfAssertSane(t, cr, []byte(tt.src))
		})
	}
}

// dfCPU returns the CPU time this process has used so far. Time bounds
// use it rather than the wall clock: other processes loading the machine
// must not fail a test, while a quadratic rule still would.
func dfCPU(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dfClip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}

// dfAssertSane checks what every result must satisfy.
func dfAssertSane(t testing.TB, cr opsdojo.CheckResult, src []byte) {
	t.Helper()
	if cr.Status != opsdojo.StatusPass && cr.Status != opsdojo.StatusFail {
		t.Fatalf("status %s (a grader error on learner input): %q %s", cr.Status, cr.Messages, cr.Log)
	}
	if (cr.Status == opsdojo.StatusPass) != (len(cr.Findings) == 0) {
		t.Fatalf("status %s with %d findings", cr.Status, len(cr.Findings))
	}
	if len(cr.Findings) > 200 {
		t.Fatalf("%d findings listed, want at most 200", len(cr.Findings))
	}
	n := strings.Count(string(src), "\n")
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	for _, f := range cr.Findings {
		if f.Rule == "" || (f.Rule != grading.DockerfileRuleSyntax && !slices.Contains(grading.DockerfileRules, f.Rule)) {
			t.Fatalf("finding with rule %q: %+v", f.Rule, f)
		}
		if f.File == "app/Dockerfile" && (f.Line < 1 || f.Line > max(1, n)) {
			t.Fatalf("finding at line %d of a %d-line file: %+v", f.Line, n, f)
		}
		if !utf8.ValidString(f.Message) || f.Message == "" {
			t.Fatalf("message not valid UTF-8 or empty: %q", f.Message)
		}
	}
	for _, m := range cr.Messages {
		if !utf8.ValidString(m) {
			t.Fatalf("message not valid UTF-8: %q", m)
		}
	}
}

// TestDockerfileAdversarialInputs feeds inputs built to make a parser or a
// rule go quadratic; each must be graded, not time out.
func TestDockerfileAdversarialInputs(t *testing.T) {
	const size = 400_000
	cont := func(s string) string {
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(s)
			b.WriteString("\\\n")
		}
		return b.String()
	}
	var chain strings.Builder
	chain.WriteString("FROM scratch AS s0\n")
	for i := 1; chain.Len() < size; i++ {
		fmt.Fprintf(&chain, "FROM s%d AS s%d\n", i-1, i)
	}
	cases := map[string]string{
		"nested ${ in FROM":   "ARG A=x:1\nFROM " + cont(strings.Repeat("${A:-", 5000)) + "\n",
		"nested ${ in ARG":    "ARG A=" + cont(strings.Repeat("${A:-", 5000)) + "\nFROM scratch\n",
		"nested ${ in USER":   "FROM scratch\nUSER " + cont(strings.Repeat("${A:-", 5000)) + "\n",
		"nested ${ in EXPOSE": "FROM scratch\nEXPOSE " + cont(strings.Repeat("${A:-", 5000)) + "\n",
		"quotes in RUN":       "FROM scratch\nRUN " + cont(strings.Repeat("\"'", 5000)) + "\n",
		"many heredocs":       "FROM scratch\nRUN " + strings.Repeat("<<A ", 10000) + "\n" + strings.Repeat("x\nA\n", 10000),
		"brackets":            "FROM scratch\nCMD " + cont(strings.Repeat("[", 5000)) + "\n",
		"many flags":          "FROM scratch\nCOPY " + cont(strings.Repeat("--from=a ", 5000)) + " a b\n",
		"many stages":         strings.Repeat("FROM scratch AS a\nFROM a\n", size/24),
		"long stage chain":    chain.String(),
		"many apt commands":   "FROM scratch\nRUN " + cont(strings.Repeat("apt-get install -y x; ", 500)) + "\n",
	}
	ignore := strings.Repeat(strings.Repeat("**/", 30)+"x\n", 2000) + strings.Repeat("[a-z]*?/", 30) + "\n"
	with := "path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\nmust_ignore: [a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z, .git, .env]\n"
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			cpu := dfCPU(t)
			cr := dfGrade(t, with, src, &ignore)
			if d := dfCPU(t) - cpu; d > dfSlowdown*3*time.Second {
				t.Errorf("took %s of CPU", d)
			}
			dfAssertSane(t, cr, []byte(src))
		})
	}
}

func TestDockerfileHundredThousandLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM opsdojo/base\n")
	for i := 1; i < 100_000; i++ {
		b.WriteString("ADD x /x\n")
	}
	src := b.String()
	if len(src) > 1<<20 {
		t.Fatalf("test file is %d bytes, over the read limit", len(src))
	}
	// The check's own timeout is set high: this test measures, and a
	// loaded machine should make it slow, not wrong.
	files := &dfFiles{files: map[string]string{"app/Dockerfile": src}}
	start, cpu := time.Now(), dfCPU(t)
	cr := dfCheckWithin(t, context.Background(), "path: app/Dockerfile\n", files, 10*time.Minute)
	elapsed, used := time.Since(start), dfCPU(t)-cpu
	t.Logf("100,000 lines graded in %s (%s of CPU)", elapsed, used)
	if used > dfSlowdown*10*time.Second {
		t.Fatalf("took %s of CPU", used)
	}
	if len(cr.Findings) != 200 {
		t.Fatalf("%d findings listed, want 200", len(cr.Findings))
	}
	if cr.Findings[0].Line != 1 || cr.Findings[199].Line > 200 {
		t.Fatalf("the first findings by line should be listed: first %d, last %d", cr.Findings[0].Line, cr.Findings[199].Line)
	}
	joined := strings.Join(cr.Messages, "\n")
	if !strings.Contains(joined, "…and ") || !strings.Contains(joined, "more not listed") {
		t.Fatalf("messages = %q, want a count of the findings left out", cr.Messages)
	}
	dfAssertSane(t, cr, []byte(src))
}

func TestDockerfileHonoursContext(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM opsdojo/base:bookworm\n")
	for b.Len() < 1<<20-100 {
		b.WriteString("RUN apt-get install x\n")
	}
	files := &dfFiles{files: map[string]string{"app/Dockerfile": b.String()}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cr := dfCheck(t, ctx, "path: app/Dockerfile\n", files)
	if cr.Status != opsdojo.StatusError {
		t.Fatalf("cancelled: %s", dfClip(dfDump(cr)))
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	cr = dfCheck(t, ctx, "path: app/Dockerfile\n", files)
	if d := time.Since(start); d > dfSlowdown*3*time.Second {
		t.Fatalf("a check past its deadline took %s to give up", d)
	}
	if cr.Status != opsdojo.StatusError {
		t.Fatalf("deadline: %s", dfClip(dfDump(cr)))
	}
}

func TestDockerfileValidateArgs(t *testing.T) {
	r := dfRunner()
	tests := []struct {
		with string
		err  string // "" when valid
	}{
		{"path: app/Dockerfile\n", ""},
		{"path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\nmust_ignore: [.git, .env]\nrules: [pinned-base, multi-stage, non-root-user, copy-not-add, exec-form, healthcheck, expose, dockerignore, apt-hygiene, legacy-builder]\n", ""},
		{"path: Dockerfile\nrules: [exec-form]\n", ""},
		{"", "need a with: block"},
		{"path: ''\n", "path is required"},
		{"rules: [exec-form]\n", "path is required"},
		{"path: /etc/Dockerfile\n", "relative"},
		{"path: ../Dockerfile\n", "leaves"},
		{"path: app/Dockerfile\nfile: x\n", `unknown field file`},
		{"path: [a, b]\n", "cannot unmarshal"},
		{"path: app/Dockerfile\nrules: [pinned]\n", `unknown rule "pinned"`},
		{"path: app/Dockerfile\nrules: []\n", "rules is empty"},
		{"path: app/Dockerfile\nrules: [exec-form, exec-form]\n", "listed twice"},
		{"path: app/Dockerfile\nrules: [expose]\n", "needs port"},
		{"path: app/Dockerfile\nport: 70000\n", "between 1 and 65535"},
		{"path: app/Dockerfile\nport: 8080\nrules: [exec-form]\n", "does not list expose"},
		{"path: app/Dockerfile\nrules: [dockerignore]\n", "needs dockerignore"},
		{"path: app/Dockerfile\ndockerignore: app/.dockerignore\nrules: [exec-form]\n", "does not list dockerignore"},
		{"path: app/Dockerfile\nmust_ignore: [.git]\n", "must_ignore needs dockerignore"},
		{"path: app/Dockerfile\ndockerignore: ../.dockerignore\n", "dockerignore:"},
		{"path: app/Dockerfile\ndockerignore: app/.dockerignore\nmust_ignore: [../x]\n", "must be a path inside"},
	}
	for _, tt := range tests {
		err := r.ValidateCheck("/labs/x", "dockerfile", []byte(tt.with))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tt.with, err)
		case tt.err != "" && err == nil:
			t.Errorf("%q: no error, want one about %q", tt.with, tt.err)
		case tt.err != "" && !strings.Contains(err.Error(), tt.err):
			t.Errorf("%q: error %q does not mention %q", tt.with, err, tt.err)
		}
	}
	// Several mistakes are all named.
	err := r.ValidateCheck("", "dockerfile", []byte("path: /x\nport: -1\nrules: [nope]\n"))
	if err == nil || !strings.Contains(err.Error(), "relative") || !strings.Contains(err.Error(), "port") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("error %v should name all three mistakes", err)
	}
}

func TestDockerfileInstructionLines(t *testing.T) {
	src := dfLines(
		"# syntax=docker/dockerfile:1",
		"ARG BASE=opsdojo/base:bookworm",
		"",
		"FROM ${BASE} AS build",
		"RUN apt-get update \\",
		"  # a comment inside a continuation",
		"  && apt-get install -y golang-go",
		"",
		"COPY . /src",
		"FROM scratch",
		`CMD ["/x"]`,
	)
	got, err := grading.DockerfileInstructionLines([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 4, 5, 9, 10, 11}; !slices.Equal(got, want) {
		t.Fatalf("lines = %v, want %v", got, want)
	}
	// The classic builder (Engine 20.10) numbered this file's instructions
	// Step 1/7 to Step 7/7, ONBUILD included, and failed at Step 7/7.
	got, err = grading.DockerfileInstructionLines([]byte(dfLines(
		"ARG BASE=opsdojo/base:bookworm", "", "# comment", "FROM ${BASE} AS b", "RUN true \\", "  && true",
		"FROM scratch", "COPY --from=b /etc/hostname /x", "ONBUILD RUN true", "COPY missing.txt /y")))
	if err != nil || !slices.Equal(got, []int{1, 4, 5, 7, 8, 9, 10}) {
		t.Fatalf("lines = %v, %v; want the 7 steps the classic builder printed", got, err)
	}
	if _, err := grading.DockerfileInstructionLines(nil); err == nil {
		t.Fatal("an empty file has no instructions: want an error")
	}
	if _, err := grading.DockerfileInstructionLines([]byte(dfLines("FROM scratch", "RUN <<EOF", "x"))); err == nil {
		t.Fatal("unterminated heredoc: want an error")
	}
}

func BenchmarkDockerfileCheck(b *testing.B) {
	src := dfReadTestdata(b, "realistic.Dockerfile")
	if n := strings.Count(src, "\n"); n < 55 || n > 65 {
		b.Fatalf("realistic.Dockerfile has %d lines, want about 60", n)
	}
	ignore := ".git\n*.log\n.env\nbin/\n"
	files := &dfFiles{files: map[string]string{"app/Dockerfile": src, "app/.dockerignore": ignore}}
	chk := labs.Check{ID: "rules", Title: "rules", Kind: "dockerfile", Points: 1,
		With: []byte("path: app/Dockerfile\nport: 8080\ndockerignore: app/.dockerignore\nmust_ignore: [.git, .env, server.log]\n")}
	step := labs.Step{ID: "s", Title: "S", Checks: []labs.Check{chk}}
	r := dfRunner()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		files.limits = files.limits[:0]
		res := r.RunStep(ctx, dfLab, step, grading.Target{Files: files})
		if res.Status != opsdojo.StatusPass {
			b.Fatalf("realistic.Dockerfile: %s", dfDump(res.Checks[0]))
		}
	}
}
