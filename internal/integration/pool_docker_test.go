//go:build integration

package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Warm-pool boxes of a lab whose learners get a docker CLI: a box is made
// with its socket folder mounted but no socket in it; the claim opens the
// proxy for the claiming learner, whose docker CLI then works and sees
// only what that learner made, labelled with that learner's id.
func TestPoolDockerCLIClaimedBox(t *testing.T) {
	dataDir := t.TempDir()
	instance := instanceOf(t, dataDir)
	cleanupInstanceAfter(t, dataDir)
	srv := startServer(t, dataDir, func(c *app.Config) { c.Pool = map[string]int{dockerLab: 2} })
	waitPoolReady(t, srv, 2)
	boxes := instanceContainers(t, instance)
	if len(boxes) != 2 {
		t.Fatalf("warm boxes: %v", boxes)
	}
	for id := range boxes {
		info := inspect(t, id)
		if len(info.Mounts) != 1 || info.Mounts[0].Destination != sandbox.DockerMountDir || info.Mounts[0].RW {
			t.Fatalf("box %s mounts = %+v; want only the proxy folder, read-only", id, info.Mounts)
		}
		if code, out := execIn(t, info.ID, sandbox.LearnerUser, "bash", "-c", "test ! -e "+sandbox.DockerMountDir+"/docker.sock"); code != 0 {
			t.Fatalf("box %s has a docker socket before anyone claimed it:\n%s", id, out)
		}
	}

	ids := map[string]string{}
	sessions := map[string]string{}
	for _, name := range []string{"pd-alice", "pd-bob"} {
		l := newLearner(t, srv, name)
		var me struct {
			User struct {
				ID int64 `json:"id"`
			} `json:"user"`
		}
		if status := l.do("GET", "/api/v1/auth/me", nil, &me); status != http.StatusOK || me.User.ID == 0 {
			t.Fatalf("me: %d %+v", status, me)
		}
		s := l.startLab(dockerLab)
		if _, ok := boxes[s.ID]; !ok {
			t.Fatalf("%s's session %s is not one of the warm boxes %v", name, s.ID, boxes)
		}
		cleanupLearnerObjects(t, s.ID)
		ids[name], sessions[name] = strconv.FormatInt(me.User.ID, 10), s.ID
		mustSh(t, s.ID, `docker run -d --name `+name+`-web opsdojo/base:bookworm sleep infinity`)
	}
	for name, sid := range sessions {
		out := strings.TrimSpace(mustSh(t, sid, `docker ps -a --format '{{.Names}}'`))
		if out != name+"-web" {
			t.Fatalf("%s's docker ps lists %q; want only %s-web", name, out, name)
		}
		list, err := docker.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("label", sandbox.LabelSession+"="+sid), filters.Arg("label", sandbox.LabelCreatedBy+"="+sandbox.CreatedByCLI))})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Labels["opsdojo.user"] != ids[name] {
			t.Fatalf("%s's CLI containers %+v; want one labelled with user %s", name, list, ids[name])
		}
	}
}
