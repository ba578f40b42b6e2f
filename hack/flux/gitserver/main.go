// gitserver serves the bare git repositories under a folder over smart HTTP on 127.0.0.1 (fluxcd/pkg's
// gittestserver, what Flux's own tests use), for Flux's source-controller in the project's tests and dev
// stack. It prints its base URL on the first line of stdout and serves until it is stopped; repositories
// are created on the first push (AutoCreate).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fluxcd/pkg/gittestserver"
)

func main() {
	root := flag.String("root", "", "folder holding the bare repositories")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "gitserver: --root is required")
		os.Exit(2)
	}
	server := gittestserver.NewGitServer(*root).AutoCreate()
	if err := server.StartHTTP(); err != nil {
		fmt.Fprintln(os.Stderr, "gitserver:", err)
		os.Exit(1)
	}
	defer server.StopHTTP()
	fmt.Println(server.HTTPAddress())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
