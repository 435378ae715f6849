package sandbox

import (
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func summary(id, name, state string, labels map[string]string, nets map[string]string, ports ...container.Port) container.Summary {
	ns := &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}
	for n, ip := range nets {
		ns.Networks[n] = &network.EndpointSettings{IPAddress: ip}
	}
	return container.Summary{ID: id, Names: []string{"/" + name}, State: state, Labels: labels, NetworkSettings: ns, Ports: ports}
}

// TestOwnCLIContainers: only the session's learner's running CLI
// containers of this instance, with an address on the session's network,
// are preview targets; names resolve as the docker CLI resolves them.
func TestOwnCLIContainers(t *testing.T) {
	const inst, sess, other = "inst-1", "0123456789abcdef", "fedcba9876543210"
	own := func(s string) map[string]string {
		return map[string]string{LabelInstance: inst, LabelSession: s, LabelCreatedBy: CreatedByCLI}
	}
	net := map[string]string{Name(sess): "10.213.0.5"}
	list := []container.Summary{
		summary("aaaa1111", "web", "running", own(sess), net, container.Port{PrivatePort: 8080, Type: "tcp"}, container.Port{PrivatePort: 8080, Type: "tcp"},
			container.Port{PrivatePort: 53, Type: "udp"}, container.Port{PrivatePort: 443, Type: "tcp"}),
		summary("aaaa2222", "api", "running", own(sess), map[string]string{Name(sess): "10.213.0.6"}),
		// Not preview targets:
		summary("bbbb0001", "stopped", "exited", own(sess), net),
		summary("bbbb0002", "bobweb", "running", own(other), map[string]string{Name(other): "10.213.0.21"}),
		summary("bbbb0003", "opsdojo-"+sess, "running", map[string]string{LabelInstance: inst, LabelSession: sess}, net), // the lab container
		summary("bbbb0004", "poolbox", "running", map[string]string{LabelInstance: inst, LabelSession: other}, net),      // a warm-pool box
		summary("bbbb0005", "otherinst", "running", map[string]string{LabelInstance: "inst-2", LabelSession: sess, LabelCreatedBy: CreatedByCLI}, net),
		summary("bbbb0006", "offnet", "running", own(sess), map[string]string{"bridge": "172.17.0.2"}),
		summary("bbbb0007", "noaddr", "running", own(sess), map[string]string{Name(sess): ""}),
		summary("bbbb0008", "unlabelled", "running", nil, net),
	}
	got := ownCLIContainers(list, inst, sess)
	if len(got) != 2 || got[0].Name != "api" || got[1].Name != "web" {
		t.Fatalf("own containers: %+v", got)
	}
	if w := got[1]; w.Addr.String() != "10.213.0.5" || len(w.Ports) != 2 || w.Ports[0] != 443 || w.Ports[1] != 8080 {
		t.Errorf("web: %+v", w)
	}
	if len(ownCLIContainers(list, inst, "")) != 0 {
		t.Error("an empty session id matched containers")
	}

	for ref, want := range map[string]string{"web": "web", "api": "api", "aaaa1111": "web", "aaaa2": "api"} {
		c, err := ResolveCLIContainer(got, ref)
		if err != nil || c.Name != want {
			t.Errorf("resolve %q: %+v %v, want %s", ref, c, err, want)
		}
	}
	// Everything else on the engine, ambiguous prefixes and stopped
	// containers: not found.
	for _, ref := range []string{"", "aaaa", "a", "bobweb", "bbbb0002", "bbbb", "opsdojo-" + sess, "poolbox", "otherinst", "stopped", "offnet", "noaddr", "unlabelled", "WEB"} {
		if c, err := ResolveCLIContainer(got, ref); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
			t.Errorf("resolve %q: %+v %v, want ENOTFOUND", ref, c, err)
		}
	}
}
