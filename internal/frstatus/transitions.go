package frstatus

import "fmt"

// Event is what moves a request: an operator's, a source's or the send run's
// action. The same (from, to) pair can be legal for one event and not for
// another: an operator may not mark a request that the send run is
// processing, for instance.
type Event string

// The events of DOMAIN.md's transition table.
const (
	// Operators.
	Process          Event = "process"
	MarkProcessed    Event = "mark-processed"
	MarkAcknowledged Event = "mark-acknowledged"
	Renumber         Event = "renumber"
	Void             Event = "void"
	// Sources.
	Acknowledge Event = "acknowledge"
	Cancel      Event = "cancel"
	// The send run.
	Delivered             Event = "delivered"
	DeliveredAcknowledged Event = "delivered-acknowledged"
	SendFailed            Event = "send-failed"
)

// rule lists where an event may start and where it may lead.
type rule struct {
	from []Status
	to   []Status
}

var nonTerminal = []Status{Unprocessed, Processing, Processed, Acknowledged, Failed, NumberTooLong, DuplicateNumber}

// table is DOMAIN.md's transition table, keyed by event.
var table = map[Event]rule{
	Process: {from: []Status{Unprocessed, Failed}, to: []Status{Processing}},
	// Marking from PROCESSING (settled with the source by phone) is allowed
	// while no send run holds the request's lease; the use case refuses it
	// with CONFLICT while one does.
	MarkProcessed:         {from: []Status{Unprocessed, Processing, Failed}, to: []Status{Processed}},
	MarkAcknowledged:      {from: []Status{Unprocessed, Processing, Failed, Processed}, to: []Status{Acknowledged}},
	Renumber:              {from: []Status{NumberTooLong, DuplicateNumber}, to: []Status{Unprocessed, Processing}},
	Void:                  {from: nonTerminal, to: []Status{Voided}},
	Acknowledge:           {from: []Status{Processed}, to: []Status{Acknowledged}},
	Cancel:                {from: []Status{Processed, Acknowledged}, to: []Status{Canceled}},
	Delivered:             {from: []Status{Processing}, to: []Status{Processed}},
	DeliveredAcknowledged: {from: []Status{Processing}, to: []Status{Acknowledged}},
	SendFailed:            {from: []Status{Processing}, to: []Status{Failed}},
}

// Events lists every event, for exhaustive tests.
func Events() []Event {
	return []Event{Process, MarkProcessed, MarkAcknowledged, Renumber, Void, Acknowledge, Cancel, Delivered, DeliveredAcknowledged, SendFailed}
}

// TransitionError is a refused move.
type TransitionError struct {
	Event    Event
	From, To Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: cannot move a fulfillment request from %s to %s", e.Event, e.From, e.To)
}

// Check reports whether ev may move a request from one status to another.
func Check(ev Event, from, to Status) error {
	r, ok := table[ev]
	if ok && contains(r.from, from) && contains(r.to, to) {
		return nil
	}
	return &TransitionError{Event: ev, From: from, To: to}
}

// Creation returns the status a new request starts in: PROCESSING with
// autoProcess, UNPROCESSED otherwise, unless the number check failed.
func Creation(autoProcess bool, numberProblem Status) Status {
	if numberProblem != "" {
		return numberProblem
	}
	if autoProcess {
		return Processing
	}
	return Unprocessed
}

func contains(list []Status, s Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
