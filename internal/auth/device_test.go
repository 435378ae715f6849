package auth

import (
	"strings"
	"testing"
	"time"
)

func TestDeviceCookie(t *testing.T) {
	key, err := NewDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewDeviceKey()
	now := time.Unix(1_700_000_000, 0)
	v, err := NewDeviceCookie(key, "Ada", now)
	if err != nil {
		t.Fatal(err)
	}
	nonce, ok := VerifyDevice(key, v, "ada", now.Add(time.Hour), 24*time.Hour)
	if !ok || nonce == "" {
		t.Fatalf("a fresh cookie does not verify: %q", v)
	}
	v2, _ := NewDeviceCookie(key, "ada", now)
	if n2, _ := VerifyDevice(key, v2, "ada", now, time.Hour); n2 == nonce {
		t.Fatal("two cookies share a nonce")
	}
	parts := strings.Split(v, ".")
	forged := strings.Join(append(append([]string{}, parts[:1]...), "Ym9i", parts[2], parts[3], parts[4]), ".") // "bob"
	for name, tc := range map[string]struct {
		key   []byte
		value string
		user  string
		at    time.Time
	}{
		"another user":          {key, v, "bob", now},
		"another key":           {other, v, "ada", now},
		"too old":               {key, v, "ada", now.Add(25 * time.Hour)},
		"from the future":       {key, v, "ada", now.Add(-time.Hour)},
		"user swapped, old MAC": {key, forged, "bob", now},
		"MAC cut":               {key, v[:len(v)-2], "ada", now},
		"garbage":               {key, "x.y.z", "ada", now},
		"empty":                 {key, "", "ada", now},
		"huge":                  {key, strings.Repeat("a", 10000), "ada", now},
		"no key":                {nil, v, "ada", now},
	} {
		if _, ok := VerifyDevice(tc.key, tc.value, tc.user, tc.at, 24*time.Hour); ok {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestDummyHashHasTheRealParameters(t *testing.T) {
	d, err := NewDummyHash()
	if err != nil {
		t.Fatal(err)
	}
	real, _ := HashPassword("some password")
	prefix := func(h string) string { return strings.Join(strings.Split(h, "$")[:4], "$") }
	if prefix(d) != prefix(real) {
		t.Fatalf("dummy %q and real %q differ in parameters", prefix(d), prefix(real))
	}
	if CheckPassword(d, "") || CheckPassword(d, "some password") {
		t.Fatal("the dummy hash matches a guessable password")
	}
}
