// Package events keeps Togather's community events in memory.
package events

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event is a community gathering people can join.
type Event struct {
	ID        int       `json:"id"`
	Title     string    `json:"title"`
	StartsAt  time.Time `json:"startsAt"`
	Location  string    `json:"location"`
	Attendees []string  `json:"attendees"`
}

// Store is a concurrency-safe, in-memory set of events.
type Store struct {
	mu     sync.Mutex
	nextID int
	events map[int]Event
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{nextID: 1, events: map[int]Event{}}
}

// Add validates e, gives it an ID and keeps it.
func (s *Store) Add(e Event) (Event, error) {
	e.Title = strings.TrimSpace(e.Title)
	if e.Title == "" {
		return Event{}, errors.New("title is required")
	}
	if e.StartsAt.IsZero() {
		return Event{}, errors.New("startsAt is required (RFC 3339)")
	}
	if e.Attendees == nil {
		e.Attendees = []string{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.ID = s.nextID
	s.nextID++
	s.events[e.ID] = e
	return e, nil
}

// List returns every event, soonest first.
func (s *Store) List() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].ID < out[j].ID
		}
		return out[i].StartsAt.Before(out[j].StartsAt)
	})
	return out
}
