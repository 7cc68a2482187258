package httpapi

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"mirror/internal/generate"
	"mirror/internal/scan"
)

// metrics are the HTTP layer's Prometheus collectors. Routes are labelled by their
// pattern ("/generations/{generation_id}"), never the raw path, so label values stay
// bounded whatever clients send.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	inflight prometheus.Gauge
	limiter  *prometheus.CounterVec

	providerRequests *prometheus.CounterVec
	providerLatency  *prometheus.HistogramVec
	providerTokens   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirror_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mirror_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mirror_http_errors_total", Help: "Error responses by error code of the envelope.",
		}, []string{"code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mirror_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	m.limiter = newLimiterMetric(reg)
	m.providerRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mirror_provider_generations_total", Help: "Generations by provider and outcome (ok, or the provider error kind).",
	}, []string{"provider", "outcome"})
	m.providerLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mirror_provider_generation_seconds", Help: "Latency of successful generations by provider, fallbacks included.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
	}, []string{"provider"})
	m.providerTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mirror_provider_tokens_total", Help: "Tokens by provider and direction (input, output).",
	}, []string{"provider", "direction"})
	reg.MustRegister(m.providerRequests, m.providerLatency, m.providerTokens)
	reg.MustRegister(m.requests, m.latency, m.errors, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeGeneration counts a generation's outcome, latency and tokens.
func (m *metrics) observeGeneration(g generate.Generation, err error) {
	if err != nil {
		if provider, kind, ok := generate.FailureOf(err); ok {
			m.providerRequests.WithLabelValues(provider, kind).Inc()
		}
		return
	}
	m.providerRequests.WithLabelValues(g.Provider, "ok").Inc()
	m.providerLatency.WithLabelValues(g.Provider).Observe(float64(g.LatencyMS) / 1000)
	m.providerTokens.WithLabelValues(g.Provider, "input").Add(float64(g.Usage.InputTokens))
	m.providerTokens.WithLabelValues(g.Provider, "output").Add(float64(g.Usage.OutputTokens))
}

// registerScanMetrics exposes the scan workers: scans finished by this instance by
// status, scans running here, and the shared queue's depth (read from the database
// at scrape time, so every instance reports the same queue).
func registerScanMetrics(reg *prometheus.Registry, scans *scan.Service) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mirror_scans_completed_total", Help: "Scans this instance completed."},
			func() float64 { return float64(scans.Stats().Completed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mirror_scans_failed_total", Help: "Scans this instance failed."},
			func() float64 { return float64(scans.Stats().Failed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mirror_scans_running", Help: "Scans running on this instance."},
			func() float64 { return float64(scans.Stats().Running) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mirror_scan_queue_depth", Help: "Scans waiting for a worker, on every instance (-1: the database did not answer)."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				n, err := scans.QueueDepth(ctx)
				if err != nil {
					return -1
				}
				return float64(n)
			}),
	)
}
