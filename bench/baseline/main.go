// Command baseline is the 10-line net/http server that echo_app is measured
// against: the original demo's handler, nothing else.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "I love %s!\n", r.URL.Path[1:]) })
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
