package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func versionString() string {
	rev := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	return fmt.Sprintf("mirror %s (%s, %s %s/%s)", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// informationURI is the project's home page written into SARIF and CycloneDX
// reports; set it at build time with -ldflags "-X main.informationURI=https://…".
// Empty (the field is left out) until the project has a public home: a guessed
// address would send readers of a report somewhere that is not ours.
var informationURI = ""
