package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// The configuration keys are the mapstructure tags of config, walked by reflection: the
// environment binding, the unknown-key check, the per-zone overlay and `config dump` all use
// the same walk, so a field added to config is a key everywhere at once.

var durationType = reflect.TypeOf(time.Duration(0))

// keyField is one key of a struct: its name and the field's index path (squashed embedded
// structs flattened into their parent, as mapstructure's ",squash" does).
type keyField struct {
	name  string
	index []int
	field reflect.StructField
}

// keyFieldCache holds keyFields' and keyFieldsByName's answers per type: the walk runs for
// every zone of a configuration (its unknown-key check, its settings), which made it a
// tenth of a 10,000-zone start. The answers are shared: callers only read them.
var keyFieldCache, keyFieldByNameCache sync.Map // reflect.Type -> []keyField, map[string]keyField

// keyFields returns the keys of struct type t in declaration order.
func keyFields(t reflect.Type) []keyField {
	if v, ok := keyFieldCache.Load(t); ok {
		return v.([]keyField)
	}
	out := walkKeyFields(t)
	keyFieldCache.Store(t, out)
	return out
}

// keyFieldsByName returns the keys of struct type t by name.
func keyFieldsByName(t reflect.Type) map[string]keyField {
	if v, ok := keyFieldByNameCache.Load(t); ok {
		return v.(map[string]keyField)
	}
	out := map[string]keyField{}
	for _, f := range keyFields(t) {
		out[f.name] = f
	}
	keyFieldByNameCache.Store(t, out)
	return out
}

func walkKeyFields(t reflect.Type) []keyField {
	var out []keyField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if opts == "squash" {
			for _, sub := range keyFields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out = append(out, keyField{name: name, index: []int{i}, field: f})
	}
	return out
}

// section reports whether a field of type t is a section of keys (a nested struct) rather
// than a value.
func section(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t != durationType
}

// configKeys lists every key of config as viper spells it ("dnssec.zsk_lifetime"); a list of
// sections such as zones is one key.
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range keyFields(t) {
			if section(f.field.Type) {
				walk(f.field.Type, prefix+f.name+".")
				continue
			}
			keys = append(keys, prefix+f.name)
		}
	}
	walk(reflect.TypeOf(config{}), "")
	return keys
}

// envName is the environment variable that sets key.
func envName(key string) string {
	return "SIGNET_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// fromEnvironment names the SIGNET_* variables behind the keys a decoding error names: a
// value from the environment is otherwise hard to trace, since no file line holds it. The
// values are not repeated (some are secrets).
func fromEnvironment(err error) string {
	var names []string
	for _, k := range configKeys() {
		if _, set := os.LookupEnv(envName(k)); set && strings.Contains(err.Error(), "'"+k+"'") {
			names = append(names, envName(k))
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "\n(set in the environment: " + strings.Join(names, ", ") + ")"
}

// bindEnv makes every key settable from SIGNET_*: viper's Unmarshal only looks up the
// environment for keys it already knows (a default, a flag or a file value), so keys with
// none of these, such as dnssec.cds or chaos.version, need binding.
func bindEnv(v *viper.Viper) {
	for _, k := range configKeys() {
		if err := v.BindEnv(k, envName(k)); err != nil {
			panic(fmt.Sprintf("bind %s: %v", k, err)) // only for an empty key
		}
	}
}

// decodeHook is viper's default (durations from strings, lists from comma-separated
// strings) plus lists of sections (zones, tsig_keys) from strings, so that the environment can
// set them too: a YAML flow list (SIGNET_TSIG_KEYS='[{name: k., algorithm: hmac-sha256,
// secret_file: /etc/k}]'), or for zones the --zone form (SIGNET_ZONES="a.=a.zone,b.=b.zone").
var decodeHook = mapstructure.ComposeDecodeHookFunc(
	sectionsFromString,
	mapstructure.StringToTimeDurationHookFunc(),
	mapstructure.StringToSliceHookFunc(","),
)

func sectionsFromString(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || !section(to.Elem()) {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if strings.HasPrefix(s, "[") {
		var list []any
		if err := yaml.Unmarshal([]byte(s), &list); err != nil {
			return nil, fmt.Errorf("a YAML list: %w", err)
		}
		// The file's unknown-key check, for the entries given this way.
		known := map[string]bool{}
		for _, f := range keyFields(to.Elem()) {
			known[f.name] = true
		}
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				continue // not a section; decoding reports it
			}
			for k := range m {
				if !known[strings.ToLower(k)] {
					return nil, fmt.Errorf("entry %d: unknown key %s", i, k)
				}
			}
		}
		return list, nil
	}
	if to != reflect.TypeOf([]zoneConfig{}) {
		return nil, fmt.Errorf("%q: want a YAML list such as [{key: value, ...}]", s)
	}
	var out []map[string]any
	for _, arg := range splitList([]string{s}) {
		z, err := parseZoneArg(arg)
		if err != nil {
			return nil, fmt.Errorf("zones: %w", err)
		}
		out = append(out, map[string]any{"origin": z.Origin, "file": z.File})
	}
	return out, nil
}

// checkKnownKeys reads the config file at path (none: nothing to check) and reports every key
// in it that config does not have, with its line, and the key it was probably meant to be.
func checkKnownKeys(path string) error {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	var errs []error
	var walk func(n *yaml.Node, t reflect.Type, prefix string)
	walk = func(n *yaml.Node, t reflect.Type, prefix string) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n.Kind != yaml.MappingNode {
			return // a wrong type; decoding reports it
		}
		known := keyFieldsByName(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				// A YAML merge key: the merged mappings' keys belong here.
				merged := []*yaml.Node{val}
				if val.Kind == yaml.SequenceNode {
					merged = val.Content
				}
				for _, m := range merged {
					walk(m, t, prefix)
				}
				continue
			}
			name := strings.ToLower(k.Value)
			f, ok := known[name]
			if !ok {
				msg := fmt.Sprintf("config %s:%d: unknown key %s%s", path, k.Line, prefix, k.Value)
				if near := nearest(name, known); near != "" {
					msg += fmt.Sprintf(" (did you mean %s%s?)", prefix, near)
				}
				errs = append(errs, errors.New(msg))
				continue
			}
			ft := f.field.Type
			switch {
			case section(ft):
				walk(val, ft, prefix+name+".")
			case ft.Kind() == reflect.Slice && section(ft.Elem()) && val.Kind == yaml.SequenceNode:
				for j, item := range val.Content {
					walk(item, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, name, j))
				}
			}
		}
	}
	walk(doc.Content[0], reflect.TypeOf(config{}), "")
	return errors.Join(errs...)
}

// nearest returns the known key within two edits of name, if any: the typo's intent.
func nearest(name string, known map[string]keyField) string {
	best, bestD := "", 3
	for k := range known {
		if d := editDistance(name, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// overlay copies every non-nil field of z into the field of s with the same key.
func overlay(s *SigningSettings, z *ZoneSettings) {
	dst := reflect.ValueOf(s).Elem()
	byName := keyFieldsByName(dst.Type())
	src := reflect.ValueOf(z).Elem()
	for _, f := range keyFields(src.Type()) {
		if p := src.FieldByIndex(f.index); !p.IsNil() {
			dst.FieldByIndex(byName[f.name].index).Set(p.Elem())
		}
	}
}

// redacted replaces a secret's value in `config dump`.
const redacted = "<redacted>"

// dumpNode renders v (a config or part of one) as YAML with the config's key names: durations
// as Go durations, unset overrides left out, fields tagged secret:"true" redacted.
func dumpNode(v reflect.Value) *yaml.Node {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch {
	case v.Type() == durationType:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v.Interface().(time.Duration).String()}
	case v.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, f := range keyFields(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if fv.Kind() == reflect.Pointer && fv.IsNil() {
				continue
			}
			val := dumpNode(fv)
			if f.field.Tag.Get("secret") == "true" && !fv.IsZero() {
				val = &yaml.Node{Kind: yaml.ScalarNode, Value: redacted}
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.name}, val)
		}
		return n
	case v.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		if !section(v.Type().Elem()) {
			n.Style = yaml.FlowStyle // a list of values on one line; of sections, in blocks
		}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, dumpNode(v.Index(i)))
		}
		return n
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v.Interface())}
	}
	return &n
}
