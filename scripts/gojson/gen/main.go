// gen prints the Python schema (skiff.api.gotypes) of moby's request types, by reflection.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
)

var (
	unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textUnm     = reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()
	emitted     = map[reflect.Type]string{}
	out         []string
	usedNames   = map[string]reflect.Type{}
)

type field struct {
	name  string
	path  []string // embedded Go field names
	typ   reflect.Type
	depth int
	tagged bool
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fields follows encoding/json's typeFields (promotion, tags, dominance).
func fields(t reflect.Type) []field {
	type item struct {
		t     reflect.Type
		path  []string
		depth int
	}
	var all []field
	queue := []item{{t, nil, 0}}
	visited := map[reflect.Type]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if visited[it.t] {
			continue
		}
		visited[it.t] = true
		for i := 0; i < it.t.NumField(); i++ {
			sf := it.t.Field(i)
			if sf.Anonymous {
				ft := deref(sf.Type)
				if !sf.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name := strings.Split(tag, ",")[0]
			ft := deref(sf.Type)
			if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
				p := append(append([]string{}, it.path...), sf.Name)
				queue = append(queue, item{ft, p, it.depth + 1})
				continue
			}
			tagged := name != ""
			if name == "" {
				name = sf.Name
			}
			all = append(all, field{name, append([]string{}, it.path...), sf.Type, it.depth, tagged})
		}
	}
	byName := map[string][]field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	var res []field
	for _, n := range order {
		fs := byName[n]
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].depth < fs[j].depth })
		if len(fs) > 1 && fs[0].depth == fs[1].depth {
			panic(fmt.Sprintf("field conflict %s in %s", n, t))
		}
		res = append(res, fs[0])
	}
	return res
}

var camel = regexp.MustCompile(`([a-z0-9])([A-Z])`)

func constName(t reflect.Type) string {
	s := t.String()
	s = strings.ReplaceAll(s, ".", "_")
	s = camel.ReplaceAllString(s, "${1}_${2}")
	return strings.ToUpper(s)
}

var builtin = map[string]string{"string": "STRING", "bool": "BOOL", "int": "INT", "int64": "INT64",
	"int32": "INT32", "uint": "UINT", "uint64": "UINT64", "uint32": "UINT32", "uint16": "UINT16",
	"uint8": "UINT8", "float64": "FLOAT64", "float32": "FLOAT32", "int8": "INT8", "int16": "INT16"}

// expr returns the Python expression of type t (pointers are transparent to Go's errors).
func expr(t reflect.Type) string {
	t = deref(t)
	if reflect.PointerTo(t).Implements(unmarshaler) {
		if t.String() == "strslice.StrSlice" {
			return "STRSLICE"
		}
		panic("unmarshaler " + t.String())
	}
	if reflect.PointerTo(t).Implements(textUnm) {
		panic("text unmarshaler " + t.String())
	}
	n := t.String()
	switch t.Kind() {
	case reflect.String:
		if b, ok := builtin[n]; ok {
			return b
		}
		return fmt.Sprintf("string_(%q)", n)
	case reflect.Bool:
		if b, ok := builtin[n]; ok {
			return b
		}
		return fmt.Sprintf("bool_(%q)", n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if b, ok := builtin[n]; ok {
			return b
		}
		return fmt.Sprintf("int_(%q, %d)", n, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if b, ok := builtin[n]; ok {
			return b
		}
		return fmt.Sprintf("uint_(%q, %d)", n, t.Bits())
	case reflect.Float32, reflect.Float64:
		if b, ok := builtin[n]; ok {
			return b
		}
		return fmt.Sprintf("float_(%q, %d)", n, t.Bits())
	case reflect.Interface:
		if t.NumMethod() != 0 {
			panic("interface with methods " + n)
		}
		return "ANY"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			panic("[]byte " + n)
		}
		return fmt.Sprintf("slice_(%q, %s)", n, expr(t.Elem()))
	case reflect.Array:
		return fmt.Sprintf("array_(%q, %s, %d)", n, expr(t.Elem()), t.Len())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("map key " + n)
		}
		return fmt.Sprintf("map_(%q, %s)", n, expr(t.Elem()))
	case reflect.Struct:
		return emitStruct(t)
	}
	panic("kind " + n)
}

func emitStruct(t reflect.Type) string {
	if c, ok := emitted[t]; ok {
		return c
	}
	fs := fields(t)
	if len(fs) == 0 {
		return fmt.Sprintf("struct_(%q, %q)", t.Name(), t.String())
	}
	c := constName(t)
	if o, ok := usedNames[c]; ok && o != t {
		panic("name clash " + c)
	}
	usedNames[c] = t
	emitted[t] = c
	var lines []string
	for _, f := range fs {
		e := expr(f.typ)
		if len(f.path) > 0 {
			lines = append(lines, fmt.Sprintf("    field_(%q, %s, via=(%s,)),", f.name, e, quoteJoin(f.path)))
		} else {
			lines = append(lines, fmt.Sprintf("    field_(%q, %s),", f.name, e))
		}
	}
	out = append(out, fmt.Sprintf("%s = struct_(\n    %q, %q,\n%s\n)\n", c, t.Name(), t.String(), strings.Join(lines, "\n")))
	return c
}

func quoteJoin(p []string) string {
	q := make([]string, len(p))
	for i, s := range p {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func main() {
	for _, t := range []reflect.Type{
		reflect.TypeOf(container.CreateRequest{}), reflect.TypeOf(container.UpdateConfig{}),
		reflect.TypeOf(container.ExecOptions{}), reflect.TypeOf(container.ExecStartOptions{}), reflect.TypeOf(volume.CreateOptions{}),
		reflect.TypeOf(network.CreateRequest{}), reflect.TypeOf(network.ConnectOptions{}), reflect.TypeOf(network.DisconnectOptions{}),
	} {
		emitStruct(t)
	}
	fmt.Fprint(os.Stdout, strings.Join(out, "\n"))
}
