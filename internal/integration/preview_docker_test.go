//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// runPreviewService builds, with the learner's docker CLI in session, an
// image FROM the lab image with the preview test's web service (EXPOSE
// 8080), runs it as name and returns the container's ID.
func runPreviewService(t *testing.T, session, labImage, name string) string {
	t.Helper()
	script := "mkdir -p ~/pv && cd ~/pv && cat > srv.pl <<'PERL'\n" + previewServerPL + "PERL\n" +
		"printf 'FROM %s\\nCOPY srv.pl /srv.pl\\nEXPOSE 8080\\nCMD [\"perl\", \"/srv.pl\", \"8080\"]\\n' " + labImage + " > Dockerfile && " +
		"docker build -q -t pvimg . 2>&1 && docker run -d --name " + name + " pvimg >/dev/null && docker inspect -f '{{.Id}}' " + name
	out := mustSh(t, session, script)
	lines := strings.Fields(out)
	id := lines[len(lines)-1]
	if len(id) != 64 {
		t.Fatalf("build and run the service:\n%s", out)
	}
	return id
}

// TestPreviewDockerContainer: a learner builds an image and runs a web
// service with the real docker CLI in a real session (dockerfile-go-service),
// and opens it through the preview origin with the token flow: HTTP and a
// websocket pass. Only the session's own CLI containers resolve: another
// learner's container, the lab container itself and a container of the
// engine on the session's network all get the preview's 404 page; another
// learner can neither get a link nor use their own cookie on the host; an
// admin can open it.
func TestPreviewDockerContainer(t *testing.T) {
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, previewPort, _ := net.SplitHostPort(pln.Addr().String())
	dataDir := t.TempDir()
	addAdmin(t, dataDir, "pvd-admin")
	srv := startServer(t, dataDir, func(c *app.Config) { c.PreviewListener = pln })
	ada := newLearner(t, srv, "pvd-ada")
	bob := newLearner(t, srv, "pvd-bob")
	as := ada.startLab(dockerLab)
	cleanupLearnerObjects(t, as.ID)
	bs := bob.startLab(dockerLab)
	cleanupLearnerObjects(t, bs.ID)
	labImage := inspect(t, as.ID).Config.Image

	// Container names are global on the engine: make them this run's own.
	// Capitals and "_" get the base32 host form.
	name := "Pv_" + as.ID[:8]
	later := "pv-later-" + as.ID[:8]
	bobName := "pv-bob-" + bs.ID[:8]

	ctrID := runPreviewService(t, as.ID, labImage, name)
	mustSh(t, bs.ID, "docker run -d --name "+bobName+" "+labImage+" sleep infinity")

	// A container of the engine that the learner did not make, on the
	// session's network and with the session's labels (as the lab
	// container and a warm-pool box have), but not created by the CLI.
	ctx := context.Background()
	labLabels := inspect(t, as.ID).Config.Labels
	otherName := "pv-other-" + as.ID[:8]
	cr, err := docker.ContainerCreate(ctx, &container.Config{Image: labImage, Cmd: []string{"sleep", "infinity"},
		Labels: map[string]string{sandbox.LabelSession: as.ID, sandbox.LabelInstance: labLabels[sandbox.LabelInstance]}},
		&container.HostConfig{NetworkMode: container.NetworkMode(sandbox.Name(as.ID))},
		&network.NetworkingConfig{}, nil, otherName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = docker.ContainerRemove(context.Background(), cr.ID, container.RemoveOptions{Force: true})
	})
	if err := docker.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}

	// The preview form's list: the learner's running containers only.
	var list struct {
		Containers []struct {
			ID    string   `json:"id"`
			Name  string   `json:"name"`
			Ports []uint16 `json:"ports"`
		} `json:"containers"`
	}
	if st := ada.do("GET", "/api/v1/sessions/"+as.ID+"/preview/containers", nil, &list); st != http.StatusOK {
		t.Fatalf("list: %d", st)
	}
	if len(list.Containers) != 1 || list.Containers[0].Name != name || list.Containers[0].ID != ctrID ||
		len(list.Containers[0].Ports) != 1 || list.Containers[0].Ports[0] != 8080 {
		t.Fatalf("ada's containers: %+v", list.Containers)
	}
	if st := bob.do("GET", "/api/v1/sessions/"+as.ID+"/preview/containers", nil, nil); st != http.StatusNotFound {
		t.Fatalf("bob lists ada's containers: %d", st)
	}

	noFollow := func(l *learner) *http.Client {
		c := *l.http
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &c
	}
	linkFor := func(l *learner, path string) (*url.URL, int) {
		t.Helper()
		resp, err := noFollow(l).Get(srv.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return nil, resp.StatusCode
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return u, resp.StatusCode
	}
	open := func(client *http.Client, u string) (int, string) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Ada opens her container through the lab page's link.
	client, dialer := previewClient(pln.Addr().String())
	var host, body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		link, st := linkFor(ada, "/sessions/"+as.ID+"/docker-preview/"+name+"/8080/hello?x=1")
		if link == nil {
			t.Fatalf("ada's link: %d", st)
		}
		host = link.Host
		if !strings.HasPrefix(host, as.ID+"-8080---") || !strings.HasSuffix(host, ".localhost:"+previewPort) || link.Query().Get("token") == "" {
			t.Fatalf("preview link %s: want the container host form with a token", link)
		}
		var code int
		code, body = open(client, link.String())
		if code == http.StatusOK {
			break
		}
		// 502 until perl listens in the new container.
		if code != http.StatusBadGateway || time.Now().After(deadline) {
			t.Fatalf("ada's preview: %d %q", code, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(body, "path=/hello?x=1\n") || !strings.Contains(body, "host="+host) || strings.Contains(body, "opsdojo_") {
		t.Fatalf("the container answered %q", body)
	}
	// A websocket passes.
	ws, _, err := dialer.Dial("ws://"+host+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket through the preview: %v", err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "echo: ping" {
		t.Fatalf("websocket echo: %q %v", msg, err)
	}
	ws.Close()

	// By a 12-character ID prefix: its own (plain) host, the same service.
	link, st := linkFor(ada, "/sessions/"+as.ID+"/docker-preview/"+ctrID[:12]+"/8080/")
	if link == nil || link.Host != as.ID+"-8080--"+ctrID[:12]+".localhost:"+previewPort {
		t.Fatalf("link by ID prefix: %v %d", link, st)
	}
	if code, b := open(client, link.String()); code != http.StatusOK || !strings.Contains(b, "path=/\n") {
		t.Fatalf("by ID prefix: %d %q", code, b)
	}

	// An admin (instructors look at a learner's service) may open it too.
	admin := login(t, srv, "pvd-admin")
	adminLink, st := linkFor(admin, "/sessions/"+as.ID+"/docker-preview/"+name+"/8080/admin")
	if adminLink == nil || adminLink.Host != host {
		t.Fatalf("admin's link: %v %d", adminLink, st)
	}
	adminClient, _ := previewClient(pln.Addr().String())
	if code, b := open(adminClient, adminLink.String()); code != http.StatusOK || !strings.Contains(b, "path=/admin\n") {
		t.Fatalf("admin's preview: %d %q", code, b)
	}

	// Names that are not ada's CLI containers: the preview's 404 page.
	for _, other := range []string{bobName, sandbox.Name(as.ID), sandbox.Name(bs.ID), otherName, cr.ID[:12], "nosuch-" + as.ID[:8]} {
		link, st := linkFor(ada, "/sessions/"+as.ID+"/docker-preview/"+other+"/8080/")
		if link == nil {
			t.Fatalf("link to %s: %d", other, st)
		}
		code, b := open(client, link.String())
		if code != http.StatusNotFound || !strings.Contains(b, "No container named") {
			t.Errorf("%s through ada's preview: %d %q, want the 404 page", other, code, b)
		}
	}

	// Bob: no link into ada's session, no way onto her host without a
	// cookie, and his own cookie (for his session) is refused there.
	if _, st := linkFor(bob, "/sessions/"+as.ID+"/docker-preview/"+name+"/8080/"); st != http.StatusNotFound {
		t.Fatalf("bob's link into ada's session: %d, want 404", st)
	}
	bobClient, _ := previewClient(pln.Addr().String())
	if code, b := open(bobClient, "http://"+host+"/"); code != http.StatusForbidden {
		t.Fatalf("bob on ada's host without a cookie: %d %q", code, b)
	}
	// Ada's container's name through bob's own session: not his.
	bobLink, st := linkFor(bob, "/sessions/"+bs.ID+"/docker-preview/"+name+"/8080/")
	if bobLink == nil {
		t.Fatalf("bob's link in his session: %d", st)
	}
	if code, b := open(bobClient, bobLink.String()); code != http.StatusNotFound || strings.Contains(b, "path=") {
		t.Fatalf("ada's container through bob's session: %d %q", code, b)
	}
	var bobCookie string
	for _, c := range bobClient.Jar.Cookies(&url.URL{Scheme: "http", Host: bobLink.Host}) {
		if c.Name == "opsdojo_preview" {
			bobCookie = c.Value
		}
	}
	if bobCookie == "" {
		t.Fatal("bob got no preview cookie")
	}
	req, _ := http.NewRequest("GET", "http://"+host+"/", nil)
	req.Header.Set("Cookie", "opsdojo_preview="+bobCookie)
	resp, err := (&http.Client{Transport: bobClient.Transport}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "path=") {
		t.Fatalf("bob's cookie on ada's host: %d %q", resp.StatusCode, b)
	}

	// A lab markdown link may name a container before it runs: the
	// preview says 404 until it does, and a reload then shows it.
	link, st = linkFor(ada, "/labs/"+dockerLab+"/docker-preview/"+later+"/8080/")
	if link == nil {
		t.Fatalf("lab link: %d", st)
	}
	if code, b := open(client, link.String()); code != http.StatusNotFound || !strings.Contains(b, fmt.Sprintf("No container named %q", later)) {
		t.Fatalf("%s before it runs: %d %q", later, code, b)
	}
	mustSh(t, as.ID, "docker run -d --name "+later+" pvimg")
	deadline = time.Now().Add(60 * time.Second)
	for {
		code, b := open(client, "http://"+link.Host+"/again")
		if code == http.StatusOK && strings.Contains(b, "path=/again\n") {
			break
		}
		if (code != http.StatusNotFound && code != http.StatusBadGateway) || time.Now().After(deadline) {
			t.Fatalf("%s once it runs: %d %q", later, code, b)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestBrowserPreviewDockerTarget: in Chromium, the editor bar's preview
// form lists the learner's running docker container, picking it moves the
// port to the one its image exposes and points Open at the container, and
// the link opens the container's page on its own preview origin.
func TestBrowserPreviewDockerTarget(t *testing.T) {
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, previewPort, _ := net.SplitHostPort(pln.Addr().String())
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.PreviewListener = pln })
	ctx := browser(t)
	signUpInBrowser(t, ctx, srv, "pvd-browser")
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+"/labs/"+dockerLab)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `!!document.getElementById('lab').dataset.session`, 90*time.Second, "session started")
	sid := evalString(t, ctx, `document.getElementById('lab').dataset.session`)
	cleanupLearnerObjects(t, sid)
	name := "pvb-" + sid[:8]
	runPreviewService(t, sid, inspect(t, sid).Config.Image, name)

	// The list is asked for when the select is about to be used.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.getElementById('preview-port').value = '9999';
		document.getElementById('preview-port').dispatchEvent(new Event('input'));
		document.getElementById('preview-target').focus(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, fmt.Sprintf(`[...document.getElementById('preview-target').options].some((o) => o.value === %q && o.text.includes('8080'))`, name),
		20*time.Second, "the container in the preview form")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.getElementById('preview-target');
		s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, name))); err != nil {
		t.Fatal(err)
	}
	want := "/sessions/" + sid + "/docker-preview/" + name + "/8080/"
	waitJS(t, ctx, fmt.Sprintf(`document.getElementById('preview-port').value === '8080' && document.getElementById('preview-open').href.endsWith(%q)`, want),
		10*time.Second, "Open points at the container's port 8080")
	screenshot(t, ctx, "preview-docker-form")

	// Open it (the link's target is a new tab; here the same tab).
	previewHost := fmt.Sprintf("%s-8080--%s.localhost:%s", sid, name, previewPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.url+want)); err != nil {
			t.Fatal(err)
		}
		body := evalString(t, ctx, `document.body ? document.body.innerText : ''`)
		if strings.Contains(body, "path=/") {
			if got := evalString(t, ctx, `location.host`); got != previewHost {
				t.Fatalf("the container's page is served from %q, want %q", got, previewHost)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's page: %q", body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	screenshot(t, ctx, "preview-docker")
}
