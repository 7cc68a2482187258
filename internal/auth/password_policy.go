package auth

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"mirror/internal/apperr"
)

// commonPasswordList is the common-password list: one lower-case password of 8 or
// more characters per line, most common first. It is the 8+ character part of the
// 30,000-entry "passwords" list of zxcvbn (MIT; source and licence in
// commonpasswords.LICENSE). To regenerate: take zxcvbn-python's
// frequency_lists.FREQUENCY_LISTS["passwords"] and keep, in order, the entries that
// are ASCII, 8+ characters and free of whitespace, lower-cased.
//
//go:embed commonpasswords.txt
var commonPasswordList string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 12000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for sc.Scan() {
		if w := sc.Text(); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// checkPassword applies the password policy of registration (NIST SP 800-63B's:
// length, and a check against passwords known to be common; no composition rules).
// It returns the field error to report, or nil:
//   - at least minPassword characters that are not whitespace (eight spaces, or
//     "a  b" padded with blanks, are not a password), at most maxPassword bytes;
//   - not one character repeated;
//   - not a common password: compared lower-cased with whitespace removed, so
//     "Password1" and "pass word 1" are the list's "password1";
//   - not the account's own email address or its local part.
func checkPassword(password, email string) *apperr.FieldError {
	bad := func(format string, a ...any) *apperr.FieldError {
		return &apperr.FieldError{Field: "password", Message: fmt.Sprintf(format, a...)}
	}
	if len(password) > maxPassword {
		return bad("must be at most %d bytes", maxPassword)
	}
	if !utf8.ValidString(password) {
		return bad("must be valid UTF-8")
	}
	squeezed := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, password))
	if utf8.RuneCountInString(squeezed) < minPassword {
		return bad("must be at least %d characters, not counting spaces", minPassword)
	}
	first, _ := utf8.DecodeRuneInString(squeezed)
	if strings.Trim(squeezed, string(first)) == "" {
		return bad("must not be one character repeated")
	}
	if _, common := commonPasswords()[squeezed]; common {
		return bad("is too common: it is in a list of the most used passwords; choose another")
	}
	if email != "" {
		local, _, _ := strings.Cut(email, "@")
		if squeezed == email || squeezed == local {
			return bad("must not be the email address")
		}
	}
	return nil
}
