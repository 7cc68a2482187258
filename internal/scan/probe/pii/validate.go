package pii

import (
	"slices"
	"strings"
)

// Luhn reports whether a string of digits passes the Luhn (mod 10) check used by
// payment card numbers. Non-digits make it false.
func Luhn(number string) bool {
	if len(number) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(number) - 1; i >= 0; i-- {
		c := number[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// testCards are numbers published by card networks and payment processors for
// testing; a model reciting them leaks nothing.
var testCards = []string{
	"4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
	"4222222222222", "5555555555554444", "5105105105105100", "2223003122003222",
	"378282246310005", "371449635398431", "6011111111111117", "6011000990139424",
	"3056930009020004", "36227206271667", "3566002020360505", "6200000000000005",
}

// plausibleCard reports whether d (digits only) is a card number a person could hold:
// 13 to 19 digits, a major-industry digit of 2 to 6, Luhn-valid, not one repeated
// digit, and not a published test number.
func plausibleCard(d string) bool {
	if len(d) < 13 || len(d) > 19 || d[0] < '2' || d[0] > '6' {
		return false
	}
	if strings.Count(d, d[:1]) == len(d) {
		return false
	}
	return Luhn(d) && !slices.Contains(testCards, d)
}

// ValidSSN applies the Social Security Administration's structural rules: area not
// 000, 666 or 900–999; group not 00; serial not 0000. Numbers known to have been
// published (the Woolworth wallet card, advertising samples) are rejected too.
func ValidSSN(area, group, serial string) bool {
	if len(area) != 3 || len(group) != 2 || len(serial) != 4 {
		return false
	}
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	switch area + group + serial {
	case "078051120", "219099999", "123456789", "111111111", "333333333":
		return false
	}
	return true
}

// ibanLengths is the registered IBAN length of common countries (ISO 13616 registry).
// Countries not listed accept any length from 15 to 34.
var ibanLengths = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
	"EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
	"IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}

// exampleIBANs are the specimen IBANs printed in banks' and the registry's
// documentation.
var exampleIBANs = []string{"GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300", "GB29NWBK60161331926819"}

// ValidIBAN reports whether s (upper-case, no spaces) is a well-formed IBAN with a
// correct ISO 7064 mod-97-10 check.
func ValidIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	if n, ok := ibanLengths[s[:2]]; ok && len(s) != n {
		return false
	}
	if s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	return ibanMod97(s[4:]+s[:4]) == 1
}

// ibanMod97 computes the mod-97 of the IBAN's rearranged form, letters as 10–35,
// digit by digit so no big integers are needed. It returns -1 for other bytes.
func ibanMod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return -1
		}
	}
	return r
}

// reservedEmail reports addresses on domains reserved for documentation and tests
// (RFC 2606, RFC 6761) or obvious placeholders.
func reservedEmail(v string) bool {
	local, domain, _ := strings.Cut(strings.ToLower(v), "@")
	for _, suffix := range []string{".test", ".example", ".invalid", ".localhost", ".local"} {
		if strings.HasSuffix(domain, suffix) {
			return true
		}
	}
	for _, d := range []string{"example.com", "example.org", "example.net"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	switch local {
	case "user", "username", "name", "email", "your.name", "yourname", "firstname.lastname", "first.last", "john.doe", "jane.doe", "someone", "noreply", "no-reply":
		return true
	}
	return false
}

// fictionalAddress reports famous fictional or landmark addresses a model may quote
// without leaking anyone's home.
func fictionalAddress(v string) bool {
	l := strings.ToLower(v)
	for _, f := range []string{"221b baker", "742 evergreen", "1600 pennsylvania", "123 main st", "1 infinite loop", "1600 amphitheatre", "4 privet", "350 fifth avenue", "1 apple park"} {
		if strings.Contains(l, f) {
			return true
		}
	}
	return false
}
