// Package config holds the files Mirror ships as its defaults. The default catalog is
// embedded so that the binary also runs outside the repository (MODELS_CONFIG unset
// and no config/models.yaml in the working directory).
package config

import _ "embed"

// DefaultModels is config/models.yaml as built into the binary.
//
//go:embed models.yaml
var DefaultModels []byte
