package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	j124 "gojson124"
)

func target(kind string) interface{} {
	switch kind {
	case "create":
		var w container.CreateRequest
		var out interface{} = &w
		return &out // as runconfig.loadJSON: dec.Decode(&out)
	case "update":
		return &container.UpdateConfig{}
	case "exec":
		return &container.ExecOptions{}
	case "execstart":
		return &container.ExecStartOptions{}
	case "connect":
		return &network.ConnectOptions{}
	case "disconnect":
		return &network.DisconnectOptions{}
	case "volume":
		return &volume.CreateOptions{}
	case "network":
		return &network.CreateRequest{}
	}
	panic(kind)
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var in struct {
			Kind string
			Body json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			panic(err)
		}
		res := map[string]string{}
		if err := json.NewDecoder(bytes.NewReader(in.Body)).Decode(target(in.Kind)); err != nil {
			res["std"] = err.Error()
		}
		if err := j124.NewDecoder(bytes.NewReader(in.Body)).Decode(target(in.Kind)); err != nil {
			res["v124"] = err.Error()
		}
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
}
