module github.com/oxilith/votive/worker

go 1.19
