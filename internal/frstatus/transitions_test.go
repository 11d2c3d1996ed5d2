package frstatus

import (
	"errors"
	"testing"
)

// allowed is DOMAIN.md's table written out pair by pair, independently of
// the rule map, so that a slip in either shows up.
var allowed = map[Event]map[[2]Status]bool{
	Process:               {{Unprocessed, Processing}: true, {Failed, Processing}: true},
	MarkProcessed:         {{Unprocessed, Processed}: true, {Processing, Processed}: true, {Failed, Processed}: true},
	MarkAcknowledged:      {{Unprocessed, Acknowledged}: true, {Processing, Acknowledged}: true, {Failed, Acknowledged}: true, {Processed, Acknowledged}: true},
	Renumber:              {{NumberTooLong, Unprocessed}: true, {NumberTooLong, Processing}: true, {DuplicateNumber, Unprocessed}: true, {DuplicateNumber, Processing}: true},
	Void:                  {{Unprocessed, Voided}: true, {Processing, Voided}: true, {Processed, Voided}: true, {Acknowledged, Voided}: true, {Failed, Voided}: true, {NumberTooLong, Voided}: true, {DuplicateNumber, Voided}: true},
	Acknowledge:           {{Processed, Acknowledged}: true},
	Cancel:                {{Processed, Canceled}: true, {Acknowledged, Canceled}: true},
	Delivered:             {{Processing, Processed}: true},
	DeliveredAcknowledged: {{Processing, Acknowledged}: true},
	SendFailed:            {{Processing, Failed}: true},
}

func TestWholeMatrix(t *testing.T) {
	checked, refused := 0, 0
	for _, ev := range Events() {
		for _, from := range All {
			for _, to := range All {
				err := Check(ev, from, to)
				want := allowed[ev][[2]Status{from, to}]
				checked++
				if want && err != nil {
					t.Errorf("%s %s→%s refused: %v", ev, from, to, err)
				}
				if !want {
					refused++
					var te *TransitionError
					if !errors.As(err, &te) || te.From != from || te.To != to {
						t.Errorf("%s %s→%s: want TransitionError, got %v", ev, from, to, err)
					}
				}
			}
		}
	}
	t.Logf("%d (event, from, to) triples checked, %d refused", checked, refused)
}

func TestTerminalStatusesHaveNoWayOut(t *testing.T) {
	for _, from := range []Status{Canceled, Voided} {
		if !from.Terminal() {
			t.Fatalf("%s not terminal", from)
		}
		for _, ev := range Events() {
			for _, to := range All {
				if Check(ev, from, to) == nil {
					t.Errorf("%s leaves terminal %s to %s", ev, from, to)
				}
			}
		}
	}
}

func TestCreation(t *testing.T) {
	if Creation(false, "") != Unprocessed || Creation(true, "") != Processing ||
		Creation(true, NumberTooLong) != NumberTooLong || Creation(false, DuplicateNumber) != DuplicateNumber {
		t.Fatal("creation statuses wrong")
	}
}
