package preview

import (
	"context"
	"encoding/base32"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Target is what one preview origin shows: a port of the session's own
// container, or of Container, a container the session's learner started
// with their docker CLI (its name, or an ID prefix, as the learner gave
// it). Tokens and cookies are bound to the whole Target.
type Target struct {
	Session   string
	Port      uint16
	Container string
}

// ContainerAccess is Access for the learner's docker containers. An
// Access that does not implement it offers no container previews.
type ContainerAccess interface {
	// ContainerTarget returns the address of port in container, which
	// must be one of the session's learner's own running CLI containers,
	// when the sign-in may see the session; ENOTFOUND otherwise (also for
	// any container that is not the learner's own).
	ContainerTarget(ctx context.Context, loginHash, sessionID, container string, port uint16) (netip.AddrPort, error)
}

func (c claims) target() Target {
	return Target{Session: c.Session, Port: c.Port, Container: c.Container}
}

// Host names of container previews: "<session>-<port>--<container>".
// The session's own container keeps "<session>-<port>", which never holds
// "--" (session ids are hex), so the two schemes cannot collide. A name
// that is already a host label in lower case (letters, digits, single
// inner hyphens: `web`, `my-app`, an ID prefix) stands as it is; any other
// (`Web`, `my_app`, `a.b`: Docker names are case-sensitive, host names
// are not) is "-" and its base32 in lower case. Each name has exactly one
// label and each label at most one name.
const containerSep = "--"

// maxLabel is the longest DNS label (and so the longest name a wildcard
// certificate or DNS record covers).
const maxLabel = 63

var (
	// refRE is what a container reference may be: Docker's own name rule
	// (an ID prefix fits it too), bounded.
	refRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)
	// plainRE: names that are host labels as they are.
	plainRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	b32     = base32.StdEncoding.WithPadding(base32.NoPadding)
)

func encodeContainer(name string) string {
	if plainRE.MatchString(name) {
		return name
	}
	return "-" + strings.ToLower(b32.EncodeToString([]byte(name)))
}

// decodeContainer reads a label's container part; only the canonical
// encoding of a valid name is accepted.
func decodeContainer(enc string) (string, bool) {
	name := enc
	if rest, ok := strings.CutPrefix(enc, "-"); ok {
		b, err := b32.DecodeString(strings.ToUpper(rest))
		if err != nil {
			return "", false
		}
		name = string(b)
	}
	if !refRE.MatchString(name) || encodeContainer(name) != enc {
		return "", false
	}
	return name, true
}

// TargetOrigin returns the preview origin of t, or EINVALID when t names
// a container that cannot be a host label.
func (s *Service) TargetOrigin(t Target) (string, error) {
	lbl := strings.ToLower(t.Session) + "-" + strconv.Itoa(int(t.Port))
	if t.Container != "" {
		if !refRE.MatchString(t.Container) {
			return "", opsdojo.Errorf(opsdojo.EINVALID, "%q is not a container name: use the name or ID that `docker ps` shows", t.Container)
		}
		lbl += containerSep + encodeContainer(t.Container)
		if len(lbl) > maxLabel {
			return "", opsdojo.Errorf(opsdojo.EINVALID, "the container name %q is too long for a preview address: give the start of its ID instead (`docker ps` shows it), or a shorter name with `docker rename`", t.Container)
		}
	}
	return s.cfg.URL.Scheme + "://" + lbl + s.cfg.URL.Host[1:], nil
}

// LinkContainer is Link for a port of container, a container the
// session's learner started with their docker CLI (by name or ID prefix).
// The link is made whether or not such a container runs now: the preview
// origin answers 404 until it does, and the page works once it is started.
func (s *Service) LinkContainer(sessionID, container string, port uint16, loginHash, path string) (string, error) {
	if s.containers == nil {
		return "", opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the preview of docker containers is not available on this server")
	}
	if container == "" {
		return "", opsdojo.Errorf(opsdojo.EINVALID, "name the container to preview")
	}
	return s.link(Target{Session: sessionID, Port: port, Container: container}, loginHash, path)
}

// lookup asks Access (or ContainerAccess) where t is.
func (s *Service) lookup(ctx context.Context, login string, t Target) (netip.AddrPort, error) {
	if t.Container == "" {
		return s.access.Target(ctx, login, t.Session, t.Port)
	}
	if s.containers == nil {
		return netip.AddrPort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no container previews here")
	}
	return s.containers.ContainerTarget(ctx, login, t.Session, t.Container, t.Port)
}

// noContainer is the 404 page of a container preview whose name does not
// resolve among the learner's own running containers.
func noContainer(t Target) string {
	return fmt.Sprintf("No container named %q is running in your lab session (or you are signed out of opsdojo).\n\n"+
		"Start it from your lab terminal with your docker CLI, e.g. `docker run -d --name %s IMAGE`, check it with `docker ps`, "+
		"and reload this page in a few seconds. The preview shows only containers you started in this lab session.", t.Container, t.Container)
}
