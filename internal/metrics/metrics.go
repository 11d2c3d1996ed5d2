// Package metrics holds the service's Prometheus metrics. Label values are
// bounded by the schema and the domain's enums: never an id, never a
// caller-chosen string.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/frsvc/fulfillment/internal/frstatus"
)

// Metrics is the set of collectors, registered on their own registry.
type Metrics struct {
	Registry        *prometheus.Registry
	graphqlDuration *prometheus.HistogramVec
	transitions     *prometheus.CounterVec
	sendAttempts    *prometheus.CounterVec
	routingDuration prometheus.Histogram
	dbStatements    prometheus.Counter
}

// New registers the collectors, the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		graphqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fulfillment_graphql_duration_seconds",
			Help:    "GraphQL operations by operation (type and first root field) and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation", "outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulfillment_fr_transitions_total",
			Help: "Fulfillment request status changes by from and to status.",
		}, []string{"from", "to"}),
		sendAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulfillment_send_attempts_total",
			Help: "Delivery attempts of the send run by connector and outcome: delivered, acknowledged, rejected, retry (attempts left) or failed (the last attempt allowed failed).",
		}, []string{"connector", "outcome"}),
		routingDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fulfillment_routing_duration_seconds",
			Help:    "Time the routing engine took per routing run.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
		}),
		dbStatements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fulfillment_db_statements_total",
			Help: "SQL statements sent to the database, counted at the driver.",
		}),
	}
	m.Registry.MustRegister(m.graphqlDuration, m.transitions, m.sendAttempts, m.routingDuration, m.dbStatements,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveOperation records one GraphQL operation.
func (m *Metrics) ObserveOperation(operation string, ok bool, d time.Duration) {
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.graphqlDuration.WithLabelValues(operation, outcome).Observe(d.Seconds())
}

// ObserveTransition counts a status change.
func (m *Metrics) ObserveTransition(from, to frstatus.Status) {
	m.transitions.WithLabelValues(string(from), string(to)).Inc()
}

// ObserveSend counts a delivery attempt.
func (m *Metrics) ObserveSend(connector, outcome string) {
	m.sendAttempts.WithLabelValues(connector, outcome).Inc()
}

// ObserveRouting records a routing run's duration.
func (m *Metrics) ObserveRouting(d time.Duration) { m.routingDuration.Observe(d.Seconds()) }

// CountStatement counts one SQL statement.
func (m *Metrics) CountStatement() { m.dbStatements.Inc() }
