package probe

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on first use. The detectors'
// expressions are large (refusals in a dozen languages), and compiling them
// when the package loads made every run of the binary pay for them, even
// `mirror scan` of model files and `mirror version`, which never judge a reply.
type lazyRegexp struct {
	re func() *regexp.Regexp
}

func newLazyRegexp(pattern string) *lazyRegexp {
	return &lazyRegexp{re: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })}
}

func (l *lazyRegexp) MatchString(s string) bool { return l.re().MatchString(s) }

func (l *lazyRegexp) FindAllString(s string, n int) []string { return l.re().FindAllString(s, n) }

func (l *lazyRegexp) FindAllStringIndex(s string, n int) [][]int {
	return l.re().FindAllStringIndex(s, n)
}

func (l *lazyRegexp) ReplaceAllString(src, repl string) string {
	return l.re().ReplaceAllString(src, repl)
}

func (l *lazyRegexp) FindStringSubmatch(s string) []string { return l.re().FindStringSubmatch(s) }

func (l *lazyRegexp) FindAllStringSubmatch(s string, n int) [][]string {
	return l.re().FindAllStringSubmatch(s, n)
}
