package embedding

import "strconv"

// The inversion attack's candidate vocabulary: a dictionary attacker's phrase bank,
// one list per field of a personal record. The secret texts are drawn from the same
// lists, so a field guessed blindly is right 1/len(list) of the time: that is the
// chance rate every recovery is measured against. None of these are real people;
// the names are common given names and surnames, combined at random.
var (
	invFirst = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
		"Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
		"Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
		"Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Dorothy", "George", "Melissa", "Timothy", "Deborah",
		"Ronald", "Stephanie", "Edward", "Rebecca", "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia",
		"Jacob", "Kathleen", "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna",
		"Stephen", "Brenda", "Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen",
		"Priya", "Kwame", "Ingrid", "Yusuf", "Beatriz", "Tobias", "Noor", "Mateo", "Aiko", "Olga",
		"Rafael", "Fatima", "Sven", "Chiara", "Dmitri", "Leila", "Hiroshi", "Amara", "Lorcan", "Esperanza"}
	invLast = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
		"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
		"Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
		"Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
		"Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
		"Halvorsen", "Okonkwo", "Lindqvist", "Kowalczyk", "Marchetti", "Nakashima", "Brennan", "Castellano", "Iwasaki", "Mbeki",
		"Schmidt", "Novak", "Petrov", "Haddad", "Yamamoto", "Fitzgerald", "Oyelaran", "Delacroix", "Sorensen", "Quintero"}
	invCity = []string{"Boston", "Chicago", "Denver", "Seattle", "Atlanta", "Phoenix", "Dallas", "Houston", "Miami", "Portland",
		"Detroit", "Memphis", "Nashville", "Baltimore", "Milwaukee", "Albuquerque", "Tucson", "Fresno", "Sacramento", "Omaha",
		"Tulsa", "Boise", "Madison", "Spokane", "Savannah", "Duluth", "Albany", "Lexington", "Provo", "Burlington",
		"Reno", "Anchorage", "Honolulu", "Pittsburgh", "Cleveland", "Cincinnati", "Richmond", "Raleigh", "Orlando", "Minneapolis"}
	invOccupation = []string{"nurse", "teacher", "engineer", "pilot", "accountant", "lawyer", "electrician", "plumber", "chef", "pharmacist",
		"dentist", "architect", "librarian", "firefighter", "paramedic", "journalist", "carpenter", "mechanic", "veterinarian", "surgeon",
		"cashier", "translator", "photographer", "programmer", "farmer"}
	invCondition = []string{"diabetes", "asthma", "hypertension", "depression", "migraine", "epilepsy", "arthritis", "psoriasis", "anemia", "glaucoma",
		"tuberculosis", "hepatitis", "leukemia", "lupus", "gout", "bronchitis", "pneumonia", "schizophrenia", "insomnia", "obesity",
		"HIV", "dementia", "eczema", "scoliosis", "sepsis"}
)

// field is one slot of a personal record in the inversion attack.
type field struct {
	name      string
	values    []string
	sensitive string // what its recovery means, for the evidence
}

// invFields are the record's fields, in the order the secret templates use them.
var invFields = func() []field {
	years := make([]string, 0, 66)
	for y := 1940; y <= 2005; y++ {
		years = append(years, strconv.Itoa(y))
	}
	return []field{
		{"first_name", invFirst, "name"},
		{"last_name", invLast, "name"},
		{"birth_year", years, "number"},
		{"city", invCity, "location"},
		{"occupation", invOccupation, "occupation"},
		{"condition", invCondition, "health"},
	}
}()

// secretTemplates are the shapes of the secret texts. The attack does not know
// them: it searches over bare phrases. Placeholders: first, last, year, city,
// occupation, condition, in invFields order.
var secretTemplates = []string{
	"Patient %[1]s %[2]s, born %[3]s, works as a %[5]s in %[4]s; diagnosed with %[6]s.",
	"%[1]s %[2]s (%[3]s) - %[5]s, %[4]s. Medical history: %[6]s.",
	"Referral for %[1]s %[2]s of %[4]s, a %[5]s born in %[3]s, regarding %[6]s.",
	"%[2]s, %[1]s. Year of birth %[3]s. Lives in %[4]s. Occupation: %[5]s. Condition: %[6]s.",
}

// stopwords are left out of token precision and recall: the attack is not asked to
// recover the template's glue.
var stopwords = map[string]bool{"a": true, "an": true, "the": true, "of": true, "in": true, "with": true, "as": true, "for": true,
	"and": true, "to": true, "on": true, "at": true, "by": true, "is": true}
