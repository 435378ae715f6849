package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/loginlimit"
)

// BenchmarkLoginTiming measures a whole failed sign-in (HTTP, JSON, store
// lookup, argon2id) for a known user with a wrong password and for an
// unknown user. They should cost the same; before the dummy hash the
// unknown user skipped argon2id and answered about 20× sooner. The limits
// are lifted so that every attempt is really tried.
//
//	go test -run '^$' -bench BenchmarkLoginTiming -benchtime 40x ./internal/web
func BenchmarkLoginTiming(b *testing.B) {
	env := newEnv(b, Config{Registration: true, Limits: loginlimit.Config{
		AccountFree: 1 << 30,
		Address:     loginlimit.Budget{Burst: 1 << 30, Every: time.Second},
		Global:      loginlimit.Budget{Burst: 1 << 30, Every: time.Second},
	}})
	c := env.client(b)
	c.register("ada")
	for _, bc := range []struct{ name, user string }{
		{"known-user-wrong-password", "ada"},
		{"unknown-user", "nobody"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				resp, body := c.login(bc.user, "wrong-password", nil)
				if resp.StatusCode != http.StatusUnauthorized {
					b.Fatalf("%d %s", resp.StatusCode, body)
				}
			}
		})
	}
}
