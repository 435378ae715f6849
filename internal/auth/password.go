// Package auth hashes passwords, issues login tokens and validates
// usernames. It knows nothing about HTTP.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Argon2id parameters: OWASP's second recommended set (19 MiB, 2 passes),
// which costs about 20 ms on the 2-core machines we target.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// HashPassword returns an encoded argon2id hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded hash.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false
	}
	// Refuse absurd parameters so a tampered row cannot make sign-in allocate gigabytes.
	if mem == 0 || mem > 256<<10 || iters == 0 || iters > 10 || threads == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Passwords hashes and checks passwords with argon2id. It is the seam
// through which the web layer's tests count verifications.
type Passwords struct{}

// Hash is HashPassword.
func (Passwords) Hash(password string) (string, error) { return HashPassword(password) }

// Check is CheckPassword.
func (Passwords) Check(encoded, password string) bool { return CheckPassword(encoded, password) }

// NewDummyHash returns a hash of a random password made with the same
// parameters as every real hash. Checking a password against it costs
// what checking a real one does, so a sign-in for an unknown username
// takes as long as one with a wrong password and does not reveal which
// usernames exist.
func NewDummyHash() (string, error) {
	pw, err := NewToken()
	if err != nil {
		return "", err
	}
	return HashPassword(pw)
}

// NewToken returns a random URL-safe token with 256 bits of entropy.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is how a login token is stored: a leaked database does not hand
// out working cookies.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidateCredentials checks a username and password for registration.
func ValidateCredentials(username, password string) error {
	if len(username) < 3 || len(username) > 32 {
		return opsdojo.Errorf(opsdojo.EINVALID, "a username has 3 to 32 characters")
	}
	for _, r := range username {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return opsdojo.Errorf(opsdojo.EINVALID, "a username may use letters, digits, '.', '-' and '_' only")
		}
	}
	if len(password) < 8 {
		return opsdojo.Errorf(opsdojo.EINVALID, "a password needs at least 8 characters")
	}
	if len(password) > 256 {
		return opsdojo.Errorf(opsdojo.EINVALID, "a password has at most 256 characters")
	}
	return nil
}
