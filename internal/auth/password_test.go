package auth

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

var hashFormat = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "p@ssw0rd!", "ünïcødé-密码-🔑", strings.Repeat("x", 256), ""} {
		h, err := HashPassword(pw)
		if err != nil {
			t.Fatalf("HashPassword(%q): %v", pw, err)
		}
		if !hashFormat.MatchString(h) {
			t.Fatalf("hash %q does not have the argon2id PHC format", h)
		}
		if strings.Contains(h, pw) && pw != "" {
			t.Fatalf("hash contains the password: %q", h)
		}
		if !CheckPassword(h, pw) {
			t.Fatalf("CheckPassword rejects the right password %q", pw)
		}
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two hashes of the same password are equal: no random salt")
	}
	if !CheckPassword(a, "same password") || !CheckPassword(b, "same password") {
		t.Fatal("salted hashes do not verify")
	}
}

func TestCheckPasswordWrong(t *testing.T) {
	h, err := HashPassword("hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"", "hunter2", "hunter2hunter3", "Hunter2hunter2", "hunter2hunter2 ", " hunter2hunter2", "hunter2hunter2hunter2hunter2"} {
		if CheckPassword(h, wrong) {
			t.Errorf("CheckPassword accepted wrong password %q", wrong)
		}
	}
}

func TestCheckPasswordTamperedOrGarbage(t *testing.T) {
	const pw = "a fine password"
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$") // "", argon2id, v=19, m=..., salt, key
	join := func(p ...string) string { return strings.Join(p, "$") }
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	otherSalt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	cases := map[string]string{
		"empty":               "",
		"dollar":              "$",
		"just the scheme":     "$argon2id$",
		"plain text":          pw,
		"bcrypt":              "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":             join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"too many fields":     h + "$extra",
		"too few fields":      join(parts[:5]...),
		"bad version":         join("", "argon2id", "v=18", parts[3], parts[4], parts[5]),
		"garbage version":     join("", "argon2id", "v=x", parts[3], parts[4], parts[5]),
		"garbage params":      join("", "argon2id", parts[2], "m=lots,t=2,p=1", parts[4], parts[5]),
		"missing params":      join("", "argon2id", parts[2], "", parts[4], parts[5]),
		"tampered key":        join("", "argon2id", parts[2], parts[3], parts[4], flip(parts[5])),
		"tampered salt":       join("", "argon2id", parts[2], parts[3], flip(parts[4]), parts[5]),
		"other salt":          join("", "argon2id", parts[2], parts[3], otherSalt, parts[5]),
		"salt not base64":     join("", "argon2id", parts[2], parts[3], "!!!!", parts[5]),
		"key not base64":      join("", "argon2id", parts[2], parts[3], parts[4], "####"),
		"empty key":           join("", "argon2id", parts[2], parts[3], parts[4], ""),
		"empty salt":          join("", "argon2id", parts[2], parts[3], "", parts[5]),
		"key too long":        join("", "argon2id", parts[2], parts[3], parts[4], base64.RawStdEncoding.EncodeToString(make([]byte, 65))),
		"truncated key":       join("", "argon2id", parts[2], parts[3], parts[4], parts[5][:20]),
		"weaker time":         join("", "argon2id", parts[2], "m=19456,t=1,p=1", parts[4], parts[5]),
		"weaker memory":       join("", "argon2id", parts[2], "m=8192,t=2,p=1", parts[4], parts[5]),
		"memory zero":         join("", "argon2id", parts[2], "m=0,t=2,p=1", parts[4], parts[5]),
		"time zero":           join("", "argon2id", parts[2], "m=19456,t=0,p=1", parts[4], parts[5]),
		"threads zero":        join("", "argon2id", parts[2], "m=19456,t=2,p=0", parts[4], parts[5]),
		"negative memory":     join("", "argon2id", parts[2], "m=-1,t=2,p=1", parts[4], parts[5]),
		"absurd memory":       join("", "argon2id", parts[2], "m=4294967295,t=2,p=1", parts[4], parts[5]),
		"just over the cap":   join("", "argon2id", parts[2], fmt.Sprintf("m=%d,t=1,p=1", 1<<20+1), parts[4], parts[5]),
		"overflowing memory":  join("", "argon2id", parts[2], "m=99999999999999999999,t=2,p=1", parts[4], parts[5]),
		"absurd time":         join("", "argon2id", parts[2], "m=19456,t=4294967295,p=1", parts[4], parts[5]),
		"time over the cap":   join("", "argon2id", parts[2], "m=19456,t=11,p=1", parts[4], parts[5]),
		"overflowing threads": join("", "argon2id", parts[2], "m=19456,t=2,p=256", parts[4], parts[5]),
		"NUL bytes":           "\x00\x00\x00",
		"dollars only":        "$$$$$",
		"very long garbage":   "$argon2id$" + strings.Repeat("A", 1<<16),
		"many separators":     strings.Repeat("$", 1000),
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("CheckPassword panicked on %q: %v", enc, p)
				}
			}()
			if CheckPassword(enc, pw) {
				t.Fatalf("CheckPassword(%q) accepted the password", enc)
			}
		})
	}
	// The untouched hash still verifies: the cases above fail for their
	// own reasons, not because the password is wrong.
	if !CheckPassword(join(parts...), pw) {
		t.Fatal("the original hash no longer verifies")
	}
}

// Hashes written with other (sane) parameters still verify: the parameters
// come from the stored hash, not from the constants.
func TestCheckPasswordHonoursStoredParameters(t *testing.T) {
	const enc = "$argon2id$v=19$m=8192,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$"
	// The key is computed with the same primitive, so the test does not
	// hard-code a digest.
	key := argon2.IDKey([]byte("password123"), []byte("saltsaltsaltsalt"), 1, 8192, 2, 32)
	full := enc + base64.RawStdEncoding.EncodeToString(key)
	if !CheckPassword(full, "password123") {
		t.Fatal("hash with m=8192,t=1,p=2 does not verify")
	}
	if CheckPassword(full, "password124") {
		t.Fatal("hash with m=8192,t=1,p=2 accepts a wrong password")
	}
}

func TestValidateCredentials(t *testing.T) {
	long := strings.Repeat("a", 32)
	cases := []struct {
		name, user, pass string
		ok               bool
		msg              string
	}{
		{"ok", "alice", "password1", true, ""},
		{"ok punctuation", "a.b-c_d", "12345678", true, ""},
		{"ok mixed case digits", "Bob42", "12345678", true, ""},
		{"min username", "abc", "12345678", true, ""},
		{"max username", long, "12345678", true, ""},
		{"max password", "alice", strings.Repeat("p", 256), true, ""},
		{"username too short", "ab", "12345678", false, "3 to 32"},
		{"empty username", "", "12345678", false, "3 to 32"},
		{"username too long", long + "a", "12345678", false, "3 to 32"},
		{"space", "al ice", "12345678", false, "letters, digits"},
		{"slash", "al/ice", "12345678", false, "letters, digits"},
		{"at sign", "alice@example", "12345678", false, "letters, digits"},
		{"non-ascii letter", "josé", "12345678", false, "letters, digits"},
		{"NUL", "ali\x00ce", "12345678", false, "letters, digits"},
		{"newline", "alice\n", "12345678", false, "letters, digits"},
		{"html", "<b>alice</b>", "12345678", false, "letters, digits"},
		{"password too short", "alice", "1234567", false, "at least 8"},
		{"empty password", "alice", "", false, "at least 8"},
		{"password too long", "alice", strings.Repeat("p", 257), false, "at most 256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateCredentials(c.user, c.pass)
			if c.ok {
				if err != nil {
					t.Fatalf("ValidateCredentials(%q, %d chars) = %v, want nil", c.user, len(c.pass), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCredentials(%q, %d chars) accepted", c.user, len(c.pass))
			}
			if code := opsdojo.ErrorCode(err); code != opsdojo.EINVALID {
				t.Fatalf("code = %q, want %q", code, opsdojo.EINVALID)
			}
			if msg := opsdojo.ErrorMessage(err); !strings.Contains(msg, c.msg) {
				t.Fatalf("message %q does not mention %q", msg, c.msg)
			}
		})
	}
}

func TestHashToken(t *testing.T) {
	a := HashToken("token-one")
	if a != HashToken("token-one") {
		t.Fatal("HashToken is not deterministic")
	}
	if a == HashToken("token-two") || a == HashToken("") {
		t.Fatal("different tokens hash alike")
	}
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("HashToken = %q, want 64 lowercase hex digits", a)
	}
	// SHA-256 of the empty string, a known vector.
	if got := HashToken(""); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("HashToken(\"\") = %s", got)
	}
	if strings.Contains(a, "token-one") {
		t.Fatal("hash contains the token")
	}
}

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok, err := NewToken()
		if err != nil {
			t.Fatalf("NewToken: %v", err)
		}
		if len(tok) != 43 {
			t.Fatalf("token %q has %d characters, want 43 (32 bytes, raw base64url)", tok, len(tok))
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q is not 32 bytes of raw base64url: %v", tok, err)
		}
		if strings.ContainsAny(tok, "+/=") {
			t.Fatalf("token %q is not URL-safe", tok)
		}
		if seen[tok] {
			t.Fatalf("NewToken repeated %q", tok)
		}
		seen[tok] = true
	}
}
