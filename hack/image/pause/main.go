// Command pause is the pod sandbox's process: it holds the pod's namespaces until it is told
// to stop, and reaps zombies when it is PID 1 of a shared process namespace. Built from this
// file by hack/image (no registry holds it here), packed as registry.k8s.io/pause:3.10.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
