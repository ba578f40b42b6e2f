// kstatus-verdict reads Kubernetes objects (a JSON list, or one object per line) on stdin and prints
// kstatus's verdict for each, one JSON object per line: {"name", "status", "message"}.
// kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) is what Flux's health checks, `flux` and `kpt`
// waits use; the tests run the real library on the operator's objects.
package main

import (
	"bufio"
	"encoding/json"

	"fmt"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		line := scanner.Bytes()
		if len(line) == 0 {
			continue
		}
		obj := map[string]interface{}{}
		if err := utiljson.Unmarshal(line, &obj); err != nil { // numbers as int64, as the apiserver sends them
			fmt.Fprintln(os.Stderr, "kstatus-verdict: not a JSON object:", err)
			os.Exit(2)
		}
		u := &unstructured.Unstructured{Object: obj}
		res, err := status.Compute(u)
		v := verdict{Name: u.GetNamespace() + "/" + u.GetName()}
		if err != nil {
			v.Status, v.Message = "Error", err.Error()
		} else {
			v.Status, v.Message = res.Status.String(), res.Message
		}
		if err := out.Encode(v); err != nil {
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus-verdict:", err)
		os.Exit(2)
	}
}
