module github.com/dtx-team/dtx/nginx

go 1.19
