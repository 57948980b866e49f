module github.com/togather/server

go 1.19
