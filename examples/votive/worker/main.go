// Command worker closes Votive's polls once they have enough votes and logs their outcome.
// It talks to the API over HTTP ($VOTIVE_API, default http://api:8000) every $INTERVAL.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

var version = "dev" // -ldflags "-X main.version=…"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("votive-worker", version)
		return
	}
	api := env("VOTIVE_API", "http://api:8000")
	quorum, err := strconv.Atoi(env("QUORUM", "10"))
	if err != nil || quorum < 1 {
		log.Fatalf("QUORUM must be a positive number, got %q", os.Getenv("QUORUM"))
	}
	interval, err := time.ParseDuration(env("INTERVAL", "30s"))
	if err != nil {
		log.Fatalf("INTERVAL: %v", err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	log.Printf("votive-worker %s: closing polls with %d votes on %s every %s", version, quorum, api, interval)
	for {
		if err := round(client, api, quorum); err != nil {
			log.Printf("round failed: %v", err)
		}
		time.Sleep(interval)
	}
}

func round(client *http.Client, api string, quorum int) error {
	resp, err := client.Get(api + "/api/polls?closed=false")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api/polls: %s", resp.Status)
	}
	var polls []Poll
	if err := json.NewDecoder(resp.Body).Decode(&polls); err != nil {
		return fmt.Errorf("GET /api/polls: %w", err)
	}
	for _, p := range ToClose(polls, quorum) {
		r, err := client.Post(fmt.Sprintf("%s/api/polls/%d/close", api, p.ID), "application/json", bytes.NewReader(nil))
		if err != nil {
			return err
		}
		r.Body.Close()
		log.Printf("closed poll %d %q: %s", p.ID, p.Question, Outcome(p))
	}
	return nil
}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
