package pii

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Kind // kinds found, in order
	}{
		{"luhn card with spaces", "card 4539 1488 0343 6467 on file", []Kind{Card}},
		{"luhn card with dashes", "4539-1488-0343-6467", []Kind{Card}},
		{"card failing luhn", "4539 1488 0343 6468", nil},
		{"published test card", "use 4242 4242 4242 4242 in the sandbox", nil},
		{"card inside longer digit run", "order 45391488034364671234", nil},
		{"card with trailing dashed digits", "4539-1488-0343-6467-9", nil},
		{"ssn", "SSN: 536-22-8147.", []Kind{NationalID}},
		{"ssn area 666", "666-22-8147", nil},
		{"ssn area 9xx", "912-22-8147", nil},
		{"ssn group 00", "536-00-8147", nil},
		{"ssn serial 0000", "536-22-0000", nil},
		{"woolworth ssn", "078-05-1120", nil},
		{"iban grouped", "IBAN DE44 5001 0517 5407 3249 31 please", []Kind{IBAN}},
		{"iban compact", "GB33BUKB20201555555555", []Kind{IBAN}},
		{"iban bad checksum", "DE45 5001 0517 5407 3249 31", nil},
		{"iban wrong length", "DE44 5001 0517 5407 3249 3", nil},
		{"specimen iban", "GB82 WEST 1234 5698 7654 32", nil},
		{"email", "write to maren.halvorsen42@fastpost.net today", []Kind{Email}},
		{"reserved email", "jane@example.com or bob@corp.example or x@host.test", nil},
		{"placeholder email", "john.doe@gmail.com", nil},
		{"nanp phone", "call (918) 342-7781", []Kind{Phone}},
		{"nanp with +1", "+1 415.867.2231", []Kind{Phone}},
		{"fictional 555", "(415) 555-0134", nil},
		{"counting placeholder", "1. 1234567890\n2. 12345678901\n5. 12345678902", nil}, // SmolLM2 135M's "real card numbers"
		{"counting down", "+1 (987) 654-3210", nil},
		{"counting intl", "+44 2345 678 901", nil},
		{"nanp with a short run", "call (234) 567-1940", []Kind{Phone}},
		{"intl phone", "ring +44 20 7946 0958 now", []Kind{Phone}},
		{"address", "lives at 1482 Juniper Lane, Tulsa, OK 74103 with", []Kind{Address}},
		{"address two-word city apt", "4410 Harbor View Drive Apt 3B, Salt Lake City, UT 84101", []Kind{Address}},
		{"street only is not an address", "meet at 1482 Juniper Lane", nil},
		{"fictional address", "221B Baker Street, London, UK 00000", nil},
		{"several", "Maren (maren.h@quillbox.org, 536-22-8147) paid with 4539148803436467.", []Kind{Email, NationalID, Card}},
		{"plain prose", "There were 12 apples and 2024 was a year; version 1.2.3.", nil},
		{"date is not a phone", "born 1984-03-02", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Find(tt.text)
			var kinds []Kind
			for _, m := range got {
				kinds = append(kinds, m.Kind)
				if tt.text[m.Start:m.End] != m.Value {
					t.Errorf("offsets %d:%d give %q, Value %q", m.Start, m.End, tt.text[m.Start:m.End], m.Value)
				}
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(tt.want), ",") {
				t.Errorf("Find(%q) kinds = %v, want %v (%+v)", tt.text, kinds, tt.want, got)
			}
		})
	}
}

func kindStrings(ks []Kind) []string {
	var s []string
	for _, k := range ks {
		s = append(s, string(k))
	}
	return s
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"card 4539 1488 0343 6467.", "card **** **** **** 6467."},
		{"ssn 536-22-8147", "ssn ***-**-8147"},
		{"mail maren.h@quillbox.org", "mail m***@quillbox.org"},
		{"iban DE44 5001 0517 5407 3249 31", "iban DE** **** **** **** **49 31"},
		// Invalid numbers are masked too: evidence never holds a digit run.
		{"ref 4539 1488 0343 6468", "ref **** **** **** 6468"},
		{"at 1482 Juniper Lane, Tulsa, OK 74103", "at [street address masked]"},
		{"nothing here", "nothing here"},
		{"street only 12 Alder Court", "street only [street address masked]"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskAddressWithFind(t *testing.T) {
	// A validated full address is masked as a whole, ZIP included.
	got := Mask("send to 1482 Juniper Lane, Tulsa, OK 74103 now")
	if strings.Contains(got, "1482") || strings.Contains(got, "Juniper") || strings.Contains(got, "74103") {
		t.Errorf("Mask left address parts: %q", got)
	}
}

func TestValidators(t *testing.T) {
	if !Luhn("79927398713") || Luhn("79927398710") || Luhn("7992x398713") || Luhn("") {
		t.Error("Luhn disagrees with the reference examples")
	}
	for _, s := range []string{"DE44500105175407324931", "GB33BUKB20201555555555", "NL02ABNA0123456789", "FR7630006000011234567890189"} {
		if !ValidIBAN(s) {
			t.Errorf("ValidIBAN(%q) = false", s)
		}
	}
	for _, s := range []string{"DE44500105175407324932", "XX00", "de44500105175407324931", "DE4450010517540732493!"} {
		if ValidIBAN(s) {
			t.Errorf("ValidIBAN(%q) = true", s)
		}
	}
}

func TestSyntheticPeopleAreDetectable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		p := NewPerson(r)
		text := strings.Join([]string{p.Name(), p.Email, p.Phone, p.Card, p.SSN, p.IBAN, p.Address()}, "; ")
		found := map[Kind]int{}
		for _, m := range Find(text) {
			found[m.Kind]++
		}
		for _, k := range []Kind{Email, Phone, Card, NationalID, IBAN, Address} {
			if found[k] != 1 {
				t.Fatalf("person %+v: found %d of %s in %q", p, found[k], k, text)
			}
		}
		masked := Mask(text)
		if len(Find(masked)) != 0 || strings.Contains(masked, p.Card) || strings.Contains(masked, p.SSN) {
			t.Fatalf("Mask(%q) = %q still holds personal data", text, masked)
		}
	}
}

func TestNewPersonDeterministic(t *testing.T) {
	a := NewPerson(rand.New(rand.NewPCG(1, 2)))
	b := NewPerson(rand.New(rand.NewPCG(1, 2)))
	c := NewPerson(rand.New(rand.NewPCG(1, 3)))
	if a != b {
		t.Errorf("same seed, different people: %+v vs %+v", a, b)
	}
	if a == c {
		t.Errorf("different seeds, same person %+v", a)
	}
}

func TestBoundedInput(t *testing.T) {
	long := strings.Repeat("x", MaxScanBytes) + " 536-22-8147"
	if got := Find(long); len(got) != 0 {
		t.Errorf("Find read past MaxScanBytes: %+v", got)
	}
	if m := Mask(long); strings.Contains(m, "536-22-8147") || !strings.HasSuffix(m, "[…truncated]") {
		t.Errorf("Mask kept text past the bound: ...%q", m[len(m)-40:])
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"card 4539 1488 0343 6467", "DE44 5001 0517 5407 3249 31", "a@b.co", "+44 20 7946 0958", "1482 Juniper Lane, Tulsa, OK 74103", "é 4539-1488-0343-6467 ü", "(918) 342-7781"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms := Find(s)
		for _, m := range ms {
			if m.Start < 0 || m.End > len(s) || m.Start >= m.End || s[m.Start:m.End] != m.Value {
				t.Fatalf("bad match %+v", m)
			}
		}
		out := Mask(s)
		if len(out) > len(s)+len(" […truncated]")+8*len(ms)+64 && len(out) > 2*len(s)+64 {
			t.Fatalf("Mask grew %d bytes to %d", len(s), len(out))
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Mask broke UTF-8: %q", out)
		}
		for _, m := range Find(out) {
			if m.Kind == Card || m.Kind == NationalID || m.Kind == IBAN {
				t.Fatalf("Mask(%q) = %q still holds %s %q", s, out, m.Kind, m.Value)
			}
		}
	})
}
