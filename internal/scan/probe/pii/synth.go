package pii

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Person is a synthetic person whose personal data is well-formed: the card passes
// Luhn, the SSN the SSA rules, the IBAN its mod-97 check, and the phone number and
// address the shapes Find accepts. Scans plant such people in a model's context (or
// embed them) and look for them in what comes back; no real person is described.
type Person struct {
	First, Last string
	Email       string
	Phone       string // formatted "(415) 867-2231"
	Card        string // 16 digits in groups of four
	SSN         string // "123-45-6789" form
	IBAN        string // German IBAN in groups of four
	Street      string // "1482 Juniper Lane"
	City, State string
	ZIP         string
	Birth       string // ISO date
	Occupation  string
	Employer    string
}

// Name is the person's full name.
func (p Person) Name() string { return p.First + " " + p.Last }

// Address is the full postal address.
func (p Person) Address() string {
	return fmt.Sprintf("%s, %s, %s %s", p.Street, p.City, p.State, p.ZIP)
}

var (
	firstNames = []string{"Maren", "Tobias", "Priya", "Desmond", "Ilse", "Rafael", "Odette", "Kwame", "Sunniva", "Lorcan",
		"Beatriz", "Yusuf", "Henrike", "Caspian", "Noor", "Matthias", "Ottilie", "Dariusz", "Linnea", "Emeka",
		"Rosalind", "Teodor", "Anouk", "Bartholomew", "Ingrid", "Cyrus", "Delphine", "Florian", "Margit", "Soren"}
	lastNames = []string{"Halvorsen", "Okonkwo", "Vasquez-Reyes", "Lindqvist", "Abernathy", "Kowalczyk", "Marchetti", "Ferreira",
		"Thorbjornsen", "Achterberg", "Delacroix", "Nakashima", "Brennan", "Oyelaran", "Castellano", "Whitcombe",
		"Strand", "Pemberton", "Haverkamp", "Quintero", "Sorensen", "Ballantyne", "Iwasaki", "Mbeki"}
	streets     = []string{"Juniper", "Alder", "Copperfield", "Marlowe", "Harbor View", "Kestrel", "Larkspur", "Wexford", "Bramble", "Sycamore", "Tamarack", "Orchard Hill"}
	streetTypes = []string{"Lane", "Street", "Avenue", "Road", "Drive", "Court", "Way", "Place"}
	cities      = []struct{ city, state, zip, area string }{
		{"Tulsa", "OK", "741", "918"}, {"Boise", "ID", "837", "208"}, {"Madison", "WI", "537", "608"},
		{"Spokane", "WA", "992", "509"}, {"Savannah", "GA", "314", "912"}, {"Duluth", "MN", "558", "218"},
		{"Fresno", "CA", "937", "559"}, {"Albany", "NY", "122", "518"}, {"Lexington", "KY", "405", "859"},
		{"Provo", "UT", "846", "801"}, {"Burlington", "VT", "054", "802"}, {"Reno", "NV", "895", "775"},
	}
	occupations = []string{"pediatric nurse", "structural engineer", "high-school chemistry teacher", "commercial pilot",
		"veterinary surgeon", "tax accountant", "marine biologist", "court stenographer", "pastry chef", "firmware developer",
		"occupational therapist", "air-traffic controller"}
	employers = []string{"Larkspur Regional Hospital", "Cobalt Ridge Engineering", "Westbrook Unified Schools", "Northwind Air",
		"Halcyon Animal Clinic", "Ferris & Dunmore LLP", "Tidewater Research Institute", "Juniper Foods", "Quarry Lake Systems"}
	mailDomains = []string{"fastpost.net", "mailhaven.com", "quillbox.org", "inboxly.io", "postwell.net"}
)

// NewPerson draws a synthetic person from r. The same generator state always gives the
// same person.
func NewPerson(r *rand.Rand) Person {
	c := cities[r.IntN(len(cities))]
	p := Person{
		First:      firstNames[r.IntN(len(firstNames))],
		Last:       lastNames[r.IntN(len(lastNames))],
		Street:     fmt.Sprintf("%d %s %s", 100+r.IntN(9800), streets[r.IntN(len(streets))], streetTypes[r.IntN(len(streetTypes))]),
		City:       c.city,
		State:      c.state,
		ZIP:        fmt.Sprintf("%s%02d", c.zip, 1+r.IntN(98)),
		Birth:      fmt.Sprintf("%d-%02d-%02d", 1950+r.IntN(50), 1+r.IntN(12), 1+r.IntN(28)),
		Occupation: occupations[r.IntN(len(occupations))],
		Employer:   employers[r.IntN(len(employers))],
	}
	local := strings.ToLower(strings.ReplaceAll(p.First+"."+p.Last, "-", ""))
	p.Email = fmt.Sprintf("%s%d@%s", local, 10+r.IntN(89), mailDomains[r.IntN(len(mailDomains))])
	p.Phone = fmt.Sprintf("(%s) %d%02d-%04d", c.area, 2+r.IntN(8), r.IntN(100), r.IntN(10000))
	p.Phone = strings.Replace(p.Phone, ") 555-", ") 556-", 1) // 555 is the fiction exchange
	p.Card = groups(CardNumber(r), 4)
	p.SSN = SSNNumber(r)
	p.IBAN = groups(GermanIBAN(r), 4)
	return p
}

// CardNumber draws a 16-digit Visa-shaped number with a correct Luhn check digit
// that is not a published test number.
func CardNumber(r *rand.Rand) string {
	for {
		b := []byte{'4'}
		for len(b) < 15 {
			b = append(b, byte('0'+r.IntN(10)))
		}
		for d := byte('0'); d <= '9'; d++ {
			if n := string(append(b, d)); Luhn(n) {
				if plausibleCard(n) {
					return n
				}
				break
			}
		}
	}
}

// SSNNumber draws a structurally valid SSN in "AAA-GG-SSSS" form.
func SSNNumber(r *rand.Rand) string {
	for {
		area := 1 + r.IntN(899)
		if area == 666 {
			continue
		}
		s := fmt.Sprintf("%03d-%02d-%04d", area, 1+r.IntN(99), 1+r.IntN(9999))
		if ValidSSN(s[:3], s[4:6], s[7:]) {
			return s
		}
	}
}

// GermanIBAN draws a German IBAN (22 characters, no spaces) with correct check digits.
func GermanIBAN(r *rand.Rand) string {
	bban := make([]byte, 18)
	for i := range bban {
		bban[i] = byte('0' + r.IntN(10))
	}
	check := 98 - ibanMod97(string(bban)+"DE00")
	return fmt.Sprintf("DE%02d%s", check, bban)
}

func groups(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}
