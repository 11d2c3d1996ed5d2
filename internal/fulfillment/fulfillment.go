// Package fulfillment holds the fulfillment use cases: preview, and (in
// later steps) create, generate, process, mark, void, regenerate, cancel and
// ship. It is the one place that combines the data layer, the routing engine
// and the status machine; transactions live here.
package fulfillment

import (
	"time"

	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/frstatus"
)

// Service runs the fulfillment use cases.
type Service struct {
	Store *db.Store
	// Budget bounds one routing search; 0 means routing.DefaultBudget.
	Budget time.Duration
	// ObserveRouting, when set, receives each routing run's duration.
	ObserveRouting func(time.Duration)
	// ObserveTransition, when set, hears of every status change.
	ObserveTransition func(from, to frstatus.Status)
	// ObserveSend, when set, hears of every delivery attempt.
	ObserveSend func(connector, outcome string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
