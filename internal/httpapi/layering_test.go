package httpapi

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// providerPackages are the packages that reach a model provider. The HTTP layer
// sees provider failures only as *apperr.Error, mapped at generate's boundary, so
// its non-test files import none of them.
var providerPackages = []string{
	"mirror/internal/llm",
	"github.com/anthropics/anthropic-sdk-go",
	"github.com/openai/openai-go",
	"google.golang.org/genai",
}

func TestNoProviderImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := providerPackage(path); ok {
				t.Errorf("%s imports %s (provider package %s): map provider errors in the domain instead", name, path, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no non-test Go files found: the check ran in the wrong directory")
	}
}

func providerPackage(path string) (string, bool) {
	for _, p := range providerPackages {
		if path == p || strings.HasPrefix(path, p+"/") {
			return p, true
		}
	}
	return "", false
}

func TestProviderPackage(t *testing.T) {
	for path, want := range map[string]bool{
		"mirror/internal/llm":                   true,
		"mirror/internal/llm/llmtest":           true,
		"github.com/openai/openai-go/v3/option": true,
		"mirror/internal/llmx":                  false,
		"mirror/internal/generate":              false,
	} {
		if _, got := providerPackage(path); got != want {
			t.Errorf("providerPackage(%q) = %v, want %v", path, got, want)
		}
	}
}
