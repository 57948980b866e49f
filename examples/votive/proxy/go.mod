module github.com/oxilith/votive/proxy

go 1.19
