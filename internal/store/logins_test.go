package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestValidLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	u := mustUser(t, s, "alice")
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	var hashes []string
	for i := 0; i < 1200; i++ { // more than one chunk of parameters
		h := fmt.Sprintf("tok-%d", i)
		hashes = append(hashes, h)
		if i%3 == 0 {
			continue // never created
		}
		e := exp
		if i%3 == 1 {
			e = time.Now().Add(-time.Second)
		}
		if err := s.CreateLogin(ctx, u.ID, h, "c", e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ValidLogins(ctx, hashes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 400 {
		t.Fatalf("%d valid logins, want 400", len(got))
	}
	for h, e := range got {
		var i int
		fmt.Sscanf(h, "tok-%d", &i)
		if i%3 != 2 || !e.Equal(exp) {
			t.Fatalf("%s valid until %s", h, e)
		}
	}
	if got, err := s.ValidLogins(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("no hashes: %v %v", got, err)
	}
}

// A password reset ends every login of that user, and only theirs.
func TestSetUserPasswordEndsLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	a := mustUser(t, s, "alice")
	b := mustUser(t, s, "bob")
	for _, l := range []struct {
		id  int64
		tok string
	}{{a.ID, "a1"}, {a.ID, "a2"}, {b.ID, "b1"}} {
		if err := s.CreateLogin(ctx, l.id, l.tok, "c", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUserPassword(ctx, "ALICE", "new-hash", false); err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{"a1": opsdojo.EUNAUTHORIZED, "a2": opsdojo.EUNAUTHORIZED, "b1": ""} {
		_, _, err := s.Login(ctx, tok)
		if want == "" && err != nil || want != "" && opsdojo.ErrorCode(err) != want {
			t.Errorf("login %s after alice's reset: %v", tok, err)
		}
	}
}

func TestSecret(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	k1, err := s.Secret(ctx, "device")
	if err != nil || len(k1) != 32 {
		t.Fatalf("secret: %x %v", k1, err)
	}
	other, _ := s.Secret(ctx, "other")
	if bytes.Equal(k1, other) {
		t.Fatal("two secrets are equal")
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	k2, err := s2.Secret(ctx, "device")
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("secret changed across a restart: %x %x %v", k1, k2, err)
	}
}
