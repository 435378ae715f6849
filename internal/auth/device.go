package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Device cookies (OWASP, "Slow down online guessing attacks with device
// cookies"): after a successful sign-in the browser gets a cookie that
// names the user and a random nonce, signed with a server key. A later
// sign-in of the same user from that browser is exempt from the lockouts
// an attacker can cause (per address, per account) and spends a small
// budget of its own instead. The cookie is not a credential: the password
// is still checked.

const deviceVersion = "d1"

// maxDeviceCookie bounds what VerifyDevice looks at.
const maxDeviceCookie = 256

// NewDeviceKey returns a fresh signing key.
func NewDeviceKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate device key: %w", err)
	}
	return k, nil
}

// NewDeviceCookie returns a signed device cookie value for username,
// issued at now, with a fresh nonce.
func NewDeviceCookie(key []byte, username string, now time.Time) (string, error) {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		return "", fmt.Errorf("generate device nonce: %w", err)
	}
	body := strings.Join([]string{deviceVersion,
		base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(username))),
		base64.RawURLEncoding.EncodeToString(n),
		strconv.FormatInt(now.Unix(), 10)}, ".")
	return body + "." + deviceMAC(key, body), nil
}

// VerifyDevice checks a device cookie value and returns its nonce when it
// is signed by key, names username (case-insensitively) and is younger
// than maxAge; ok is false otherwise.
func VerifyDevice(key []byte, value, username string, now time.Time, maxAge time.Duration) (nonce string, ok bool) {
	if len(value) > maxDeviceCookie || len(key) == 0 {
		return "", false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return "", false
	}
	body, mac := value[:i], value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(deviceMAC(key, body))) {
		return "", false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 4 || parts[0] != deviceVersion {
		return "", false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || string(name) != strings.ToLower(username) {
		return "", false
	}
	issued, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return "", false
	}
	if age := now.Sub(time.Unix(issued, 0)); age < -time.Minute || age > maxAge {
		return "", false
	}
	return parts[2], true
}

func deviceMAC(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("opsdojo device cookie\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
