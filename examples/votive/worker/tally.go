package main

import "fmt"

// Poll is a poll as the API returns it.
type Poll struct {
	ID       int    `json:"id"`
	Question string `json:"question"`
	Yes      int    `json:"yes"`
	No       int    `json:"no"`
	Closed   bool   `json:"closed"`
}

// ToClose returns the open polls that reached the quorum, in the API's order.
func ToClose(polls []Poll, quorum int) []Poll {
	var out []Poll
	for _, p := range polls {
		if !p.Closed && p.Yes+p.No >= quorum {
			out = append(out, p)
		}
	}
	return out
}

// Outcome says how a poll ended.
func Outcome(p Poll) string {
	switch {
	case p.Yes > p.No:
		return fmt.Sprintf("yes, %d to %d", p.Yes, p.No)
	case p.No > p.Yes:
		return fmt.Sprintf("no, %d to %d", p.No, p.Yes)
	default:
		return fmt.Sprintf("tied at %d", p.Yes)
	}
}
