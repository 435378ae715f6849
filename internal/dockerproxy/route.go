// Package dockerproxy gives a lab session's learner a real `docker` CLI
// without giving them the Docker engine: each session gets its own Unix
// socket, and every request on it is matched against an allow-list, has
// its body read, parsed and rewritten (or refused), and reaches the engine
// only for objects the session owns. What does not parse, or is not on
// the list, is refused: the proxy fails closed. The policy (this file and
// rewrite.go) is pure and needs no engine; proxy.go talks to the engine.
package dockerproxy

import (
	"net/http"
	"regexp"
	"strings"
)

// Op is an allowed kind of request.
type Op int

// The operations the proxy allows. Anything else is refused.
const (
	OpNone Op = iota
	OpPing
	OpVersion
	OpInfo
	OpImageList
	OpImageInspect
	OpImageHistory
	OpImageTag
	OpImageRemove
	OpBuild
	OpContainerList
	OpContainerCreate
	OpContainerInspect
	OpContainerStart
	OpContainerStop
	OpContainerRestart
	OpContainerKill
	OpContainerRemove
	OpContainerLogs
	OpContainerAttach
	OpContainerWait
	OpContainerTop
	OpContainerStats
	OpContainerResize
	OpExecCreate
	OpExecStart
	OpExecResize
	OpExecInspect
	OpNetworkList
	OpNetworkInspect
	OpVolumeList
	OpVolumeCreate
	OpVolumeInspect
	OpVolumeRemove
)

// Route is a matched request: what it does and the object it names, as
// the learner wrote it (a name, an ID or an ID prefix).
type Route struct {
	Op  Op
	Ref string
}

// Kind says what kind of object Ref names.
func (r Route) Kind() string {
	switch r.Op {
	case OpImageInspect, OpImageHistory, OpImageTag, OpImageRemove:
		return "image"
	case OpContainerInspect, OpContainerStart, OpContainerStop, OpContainerRestart, OpContainerKill, OpContainerRemove,
		OpContainerLogs, OpContainerAttach, OpContainerWait, OpContainerTop, OpContainerStats, OpContainerResize, OpExecCreate:
		return "container"
	case OpExecStart, OpExecResize, OpExecInspect:
		return "exec"
	case OpNetworkInspect:
		return "network"
	case OpVolumeInspect, OpVolumeRemove:
		return "volume"
	}
	return ""
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+(/|$)`)

// StripVersion removes the /vX.Y prefix the CLI puts on every path, so
// that `/v1.41/containers/create` and `/containers/create` match the same
// rule (a URL-only proxy that forgets this can be walked around).
func StripVersion(path string) string {
	if m := versionPrefix.FindStringIndex(path); m != nil {
		return "/" + path[m[1]:]
	}
	return path
}

type rule struct {
	method string
	// pattern: segments, "*" matches one segment, "**" the rest up to the
	// final literal segment (image names hold slashes).
	pattern []string
	op      Op
}

func r(method, pattern string, op Op) rule {
	return rule{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), op: op}
}

var rules = []rule{
	r(http.MethodGet, "/_ping", OpPing),
	r(http.MethodHead, "/_ping", OpPing),
	r(http.MethodGet, "/version", OpVersion),
	r(http.MethodGet, "/info", OpInfo),

	r(http.MethodGet, "/images/json", OpImageList),
	r(http.MethodGet, "/images/**/json", OpImageInspect),
	r(http.MethodGet, "/images/**/history", OpImageHistory),
	r(http.MethodPost, "/images/**/tag", OpImageTag),
	r(http.MethodDelete, "/images/**", OpImageRemove),
	r(http.MethodPost, "/build", OpBuild),

	r(http.MethodGet, "/containers/json", OpContainerList),
	r(http.MethodPost, "/containers/create", OpContainerCreate),
	r(http.MethodGet, "/containers/*/json", OpContainerInspect),
	r(http.MethodPost, "/containers/*/start", OpContainerStart),
	r(http.MethodPost, "/containers/*/stop", OpContainerStop),
	r(http.MethodPost, "/containers/*/restart", OpContainerRestart),
	r(http.MethodPost, "/containers/*/kill", OpContainerKill),
	r(http.MethodDelete, "/containers/*", OpContainerRemove),
	r(http.MethodGet, "/containers/*/logs", OpContainerLogs),
	r(http.MethodPost, "/containers/*/attach", OpContainerAttach),
	r(http.MethodPost, "/containers/*/wait", OpContainerWait),
	r(http.MethodGet, "/containers/*/top", OpContainerTop),
	r(http.MethodGet, "/containers/*/stats", OpContainerStats),
	r(http.MethodPost, "/containers/*/resize", OpContainerResize),
	r(http.MethodPost, "/containers/*/exec", OpExecCreate),
	r(http.MethodPost, "/exec/*/start", OpExecStart),
	r(http.MethodPost, "/exec/*/resize", OpExecResize),
	r(http.MethodGet, "/exec/*/json", OpExecInspect),

	r(http.MethodGet, "/networks", OpNetworkList),
	r(http.MethodGet, "/networks/*", OpNetworkInspect),
	r(http.MethodGet, "/volumes", OpVolumeList),
	r(http.MethodPost, "/volumes/create", OpVolumeCreate),
	r(http.MethodGet, "/volumes/*", OpVolumeInspect),
	r(http.MethodDelete, "/volumes/*", OpVolumeRemove),
}

// Match finds the rule for a request path (with or without the version
// prefix; query string excluded). ok is false for anything not allowed.
func Match(method, path string) (Route, bool) {
	path = StripVersion(path)
	if path == "" || path[0] != '/' || strings.Contains(path, "//") {
		return Route{}, false
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, s := range segs {
		// The engine's router would clean these; refuse instead of guessing.
		if s == ".." || s == "." {
			return Route{}, false
		}
	}
	for _, ru := range rules {
		if ru.method != method {
			continue
		}
		if ref, ok := matchSegs(ru.pattern, segs); ok {
			// Specific rules first: "/containers/json" is the list, not a
			// container named json.
			if ru.op == OpContainerRemove && (ref == "json" || ref == "create") {
				continue
			}
			if ru.op == OpNetworkInspect && ref == "create" || ru.op == OpVolumeInspect && ref == "create" {
				continue
			}
			return Route{Op: ru.op, Ref: ref}, true
		}
	}
	return Route{}, false
}

func matchSegs(pattern, segs []string) (string, bool) {
	ref := ""
	for i, p := range pattern {
		switch p {
		case "*":
			if i >= len(segs) || segs[i] == "" {
				return "", false
			}
			ref = segs[i]
		case "**":
			rest := len(pattern) - i - 1 // literal segments after **
			if len(segs)-i-rest < 1 {
				return "", false
			}
			ref = strings.Join(segs[i:len(segs)-rest], "/")
			for j := 0; j < rest; j++ {
				if segs[len(segs)-rest+j] != pattern[i+1+j] {
					return "", false
				}
			}
			if ref == "" {
				return "", false
			}
			return ref, true
		default:
			if i >= len(segs) || segs[i] != p {
				return "", false
			}
		}
	}
	return ref, len(segs) == len(pattern)
}
