// Command edge is dtx's stand-in for nginx (no nginx image can be pulled where this example is
// tested): the gateway in front of the front end and the backend.
//
//	edge -listen :8080 -route /api/=http://backend:8000/cgi-bin/ -route /=http://frontend:8080
//
// Routes are matched by longest prefix, like nginx `location /prefix/ { proxy_pass … }`; an
// upstream with a path replaces the prefix (`-route /api/=http://backend:8000/cgi-bin/`).
// Static files are served like `try_files $uri $uri/ /index.html`. GET /healthz answers 200.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

var version = "dev" // -ldflags "-X main.version=…"

type routes []route

type route struct {
	prefix string
	target *url.URL
}

func (r *routes) String() string { return fmt.Sprint(*r) }

func (r *routes) Set(v string) error {
	prefix, target, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("want /prefix=http://host:port, got %q", v)
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad upstream %q", target)
	}
	*r = append(*r, route{prefix, u})
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("edge", version)
		return
	}
	listen := flag.String("listen", ":8080", "address to listen on")
	root := flag.String("root", "", "directory of static files (the front end)")
	var upstreams routes
	flag.Var(&upstreams, "route", "/prefix=http://upstream (repeatable)")
	flag.Parse()
	handler, err := Handler(*root, upstreams)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *listen, Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("edge %s listening on %s", version, *listen)
	log.Fatal(srv.ListenAndServe())
}

// Handler serves /healthz, then the longest matching route, then the static root.
func Handler(root string, upstreams routes) (http.Handler, error) {
	if root == "" && len(upstreams) == 0 {
		return nil, errors.New("give -root, -route, or both")
	}
	sort.SliceStable(upstreams, func(i, j int) bool {
		return len(upstreams[i].prefix) > len(upstreams[j].prefix)
	})
	proxies := make([]http.Handler, len(upstreams))
	for i, r := range upstreams {
		r := r
		p := httputil.NewSingleHostReverseProxy(r.target)
		if r.target.Path != "" {
			// Like nginx's `proxy_pass` with a URI: the matched prefix is replaced by it.
			p.Director = func(req *http.Request) {
				req.URL.Scheme = r.target.Scheme
				req.URL.Host = r.target.Host
				req.URL.Path = r.target.Path + strings.TrimPrefix(req.URL.Path, r.prefix)
				req.URL.RawPath = ""
			}
		}
		proxies[i] = p
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		for i, r := range upstreams {
			if strings.HasPrefix(req.URL.Path, r.prefix) {
				proxies[i].ServeHTTP(w, req)
				return
			}
		}
		if root == "" {
			http.NotFound(w, req)
			return
		}
		// try_files $uri $uri/ /index.html
		clean := path.Clean("/" + req.URL.Path)
		file := filepath.Join(root, filepath.FromSlash(clean))
		if st, err := os.Stat(file); err != nil || st.IsDir() && !exists(filepath.Join(file, "index.html")) {
			file = filepath.Join(root, "index.html")
		}
		if strings.HasPrefix(clean, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		http.ServeFile(w, req, file)
	}), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
