package identity

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"unicode/utf8"
)

// User passwords are chosen by people, so unlike client secrets (see
// hashSecret) they are guessable, and the hash must make every guess
// expensive for someone who has stolen the store. PBKDF2-HMAC-SHA256 with
// 600,000 iterations is OWASP's current recommendation for it, and it is
// in the standard library (a memory-hard KDF such as Argon2id would need a
// new direct dependency). The cost and the algorithm are stored with each
// hash, so raising the cost later leaves existing hashes verifiable.
const (
	passwordKDF               = "PBKDF2-HMAC-SHA256"
	defaultPasswordIterations = 600_000
	passwordHashBytes         = 32
)

// The password policy, as Entra applies it to cloud users.
const (
	minPasswordLength = 8
	maxPasswordLength = 256
)

// passwordHash is how a user's password is stored.
type passwordHash struct {
	KDF        string `json:"kdf"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Hash       []byte `json:"hash"`
}

// hashPassword returns a new salted hash of password.
func hashPassword(password string, iterations int) (passwordHash, error) {
	salt, err := newSalt()
	if err != nil {
		return passwordHash{}, err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, passwordHashBytes)
	if err != nil {
		return passwordHash{}, fmt.Errorf("identity: hash password: %w", err)
	}
	return passwordHash{KDF: passwordKDF, Iterations: iterations, Salt: salt, Hash: key}, nil
}

// matches reports, in time independent of where the hashes differ,
// whether password is the one hashed.
func (h passwordHash) matches(password string) bool {
	if h.KDF != passwordKDF || h.Iterations <= 0 || len(h.Hash) == 0 {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, password, h.Salt, h.Iterations, len(h.Hash))
	return err == nil && subtle.ConstantTimeCompare(key, h.Hash) == 1
}

// burnPasswordHash spends the time of one password check, so that a
// sign-in for an unknown user takes as long as one with a wrong password
// and the answer's timing does not tell which users exist.
func burnPasswordHash(password string, iterations int) {
	_, _ = pbkdf2.Key(sha256.New, password, make([]byte, saltBytes), iterations, passwordHashBytes)
}

// checkPassword applies Entra's password policy for cloud users: 8 to 256
// characters from letters, digits, symbols and spaces (ASCII), with at
// least three of the four groups lower-case letters, upper-case letters,
// digits and symbols.
func checkPassword(password string) error {
	const lead = "The specified password does not comply with password complexity requirements."
	n := utf8.RuneCountInString(password)
	if n < minPasswordLength || n > maxPasswordLength {
		return refusef(ErrWeakPassword, "%s It must be %d to %d characters long; it has %d.", lead, minPasswordLength, maxPasswordLength, n)
	}
	var lower, upper, digit, symbol bool
	for _, r := range password {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r == ' ':
		case r > ' ' && r < 0x7f:
			symbol = true
		default:
			return refusef(ErrWeakPassword, "%s It may contain only ASCII letters, digits, symbols and spaces.", lead)
		}
	}
	var have, missing []string
	for _, c := range []struct {
		ok   bool
		name string
	}{{lower, "lower-case letters"}, {upper, "upper-case letters"}, {digit, "digits"}, {symbol, "symbols"}} {
		if c.ok {
			have = append(have, c.name)
		} else {
			missing = append(missing, c.name)
		}
	}
	if len(have) < 3 {
		return refusef(ErrWeakPassword, "%s It must contain characters from at least three of these four groups: lower-case letters, upper-case letters, digits, symbols; add %s.",
			lead, strings.Join(missing, " or "))
	}
	return nil
}
