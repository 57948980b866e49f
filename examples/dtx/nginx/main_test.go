package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestLongestRouteWinsAndTheRestIsStatic(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "api saw "+r.URL.Path)
	}))
	defer api.Close()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("app shell"), 0o644); err != nil {
		t.Fatal(err)
	}
	var rs routes
	if err := rs.Set("/api/=" + api.URL); err != nil {
		t.Fatal(err)
	}
	if err := rs.Set("/cgi/=" + api.URL + "/cgi-bin/"); err != nil {
		t.Fatal(err)
	}
	h, err := Handler(root, rs)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/api/polls": "api saw /api/polls",
		"/polls/42":  "app shell", // an SPA route falls back to index.html
		"/healthz":   "ok\n",
		"/":          "app shell",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Body.String(); got != want {
			t.Errorf("GET %s = %q, want %q", path, got, want)
		}
	}
	if _, err := Handler("", nil); err == nil {
		t.Error("a handler with nothing to serve was accepted")
	}
}
