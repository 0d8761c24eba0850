package inventory

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

const testCluster = "c1"

// convertYAML converts one Kubernetes object written as YAML, taking its
// apiVersion and kind from the object itself.
func convertYAML(t *testing.T, doc string) (Object, error) {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("bad test object: %v\n%s", err, doc)
	}
	var h struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &h); err != nil {
		t.Fatalf("bad test object: %v", err)
	}
	return Convert(testCluster, Source{APIVersion: h.APIVersion, Kind: h.Kind}, j)
}

// convertCase is a row of the Convert tables: an object, and either the
// record it converts to or the exact error.
type convertCase struct {
	name    string
	yaml    string
	want    Object
	wantErr string
}

func runConvertCases(t *testing.T, tests []convertCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertYAML(t, tt.yaml)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Convert succeeded with %s, want error %q", asJSON(got), tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("Convert error = %q, want %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("Convert returned %s with the error, want nil", asJSON(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("Convert: unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Convert =\n %s\nwant\n %s", asJSON(got), asJSON(tt.want))
			}
		})
	}
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }
