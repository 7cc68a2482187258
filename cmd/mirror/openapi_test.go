package main

import (
	"fmt"
	"net/http"
	"sync"

	"mirror/internal/httpapi"
	"mirror/internal/httpapi/openapitest"
)

// Every response that the end-to-end tests read through httpClient is checked against
// the OpenAPI document (openapitest: status, headers, content type, body, envelope);
// TestMain fails the package on any mismatch, naming the request.
var drift struct {
	sync.Mutex
	found []string
}

func init() {
	checker, err := openapitest.New(httpapi.OpenAPIDocument())
	if err != nil {
		panic(err)
	}
	httpClient.Transport = &openapitest.Transport{Checker: checker, Report: func(req *http.Request, status int, err error) {
		drift.Lock()
		defer drift.Unlock()
		drift.found = append(drift.found, fmt.Sprintf("%s %s answered %d: %v", req.Method, req.URL.RequestURI(), status, err))
	}}
}

func openAPIDrift() []string {
	drift.Lock()
	defer drift.Unlock()
	return drift.found
}
