// Command etcd is upstream's etcd entrypoint, built from the Go module proxy for amldoctor's
// end-to-end tests (go install cannot build etcd because its go.mod has replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
