package main

import "testing"

func TestPollsCloseAtTheQuorum(t *testing.T) {
	polls := []Poll{
		{ID: 1, Yes: 6, No: 4},
		{ID: 2, Yes: 2, No: 1},
		{ID: 3, Yes: 9, No: 9, Closed: true},
		{ID: 4, Yes: 5, No: 5},
	}
	got := ToClose(polls, 10)
	if len(got) != 2 || got[0].ID != 1 || got[1].ID != 4 {
		t.Fatalf("ToClose = %+v", got)
	}
	for _, c := range []struct {
		p    Poll
		want string
	}{
		{Poll{Yes: 6, No: 4}, "yes, 6 to 4"},
		{Poll{Yes: 1, No: 3}, "no, 3 to 1"},
		{Poll{Yes: 5, No: 5}, "tied at 5"},
	} {
		if got := Outcome(c.p); got != c.want {
			t.Errorf("Outcome(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}
