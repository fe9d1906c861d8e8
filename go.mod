module github.com/rastringer/docker_multistage

go 1.26
