package events

import (
	"testing"
	"time"
)

func TestAddValidatesAndListsSoonestFirst(t *testing.T) {
	s := NewStore()
	if _, err := s.Add(Event{Title: "  "}); err == nil {
		t.Fatal("an event without a title was accepted")
	}
	later := time.Date(2024, 6, 2, 18, 0, 0, 0, time.UTC)
	sooner := later.Add(-24 * time.Hour)
	if _, err := s.Add(Event{Title: "Picnic", StartsAt: later}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(Event{Title: "Book club", StartsAt: sooner}); err != nil {
		t.Fatal(err)
	}
	got := s.List()
	if len(got) != 2 || got[0].Title != "Book club" || got[1].Title != "Picnic" {
		t.Fatalf("List() = %+v", got)
	}
	if got[0].Attendees == nil {
		t.Fatal("attendees must be an empty list, not null")
	}
}
