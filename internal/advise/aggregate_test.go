package advise

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/inventory"
	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/trace"
)

// ambiguousObjects builds clusters where Egresses eg-a and eg-b (different
// IPs) select the pods of app x, eg-a and eg-c those of app y, and a
// second cluster without nodes holds NodePort Services.
func ambiguousObjects(clusters, pods int) []inventory.Object {
	sel := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}
	any := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
	var out []inventory.Object
	for c := 0; c < clusters; c++ {
		cl := fmt.Sprintf("c%03d", c)
		out = append(out,
			&inventory.Node{Meta: meta(cl, "", "n1", nil), InternalIPs: []netip.Addr{ip("10.0.0.1")}},
			&inventory.Namespace{Meta: meta(cl, "", "web", nil)},
			&inventory.Egress{Meta: meta(cl, "", "eg-a", nil), PodSelector: any, StatusIP: ip("10.0.9.1")},
			&inventory.Egress{Meta: meta(cl, "", "eg-b", nil), PodSelector: sel("x"), StatusIP: ip("10.0.9.2")},
			&inventory.Egress{Meta: meta(cl, "", "eg-c", nil), PodSelector: sel("y"), StatusIP: ip("10.0.9.3")})
		for i := 0; i < pods; i++ {
			app := "x"
			if i%10 == 9 {
				app = "y"
			}
			out = append(out, &inventory.Pod{Meta: meta(cl, "web", fmt.Sprintf("p-%05d", i), map[string]string{"app": app}), NodeName: "n1",
				IPs: []netip.Addr{netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i)})}})
		}
	}
	for i := 0; i < 12; i++ {
		out = append(out, &inventory.Service{Meta: meta("nodeless", "web", fmt.Sprintf("np-%02d", i), nil), Type: inventory.ServiceNodePort,
			Ports: []inventory.ServicePort{{Protocol: address.TCP, Port: 80, NodePort: int32(30000 + i)}}})
	}
	return out
}

func ambiguousIndex(t testing.TB, clusters, pods int) (*model.Config, *membership.Index) {
	cfg, err := model.ParseConfig("advise.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	x := membership.New()
	if err := x.Load(ambiguousObjects(clusters, pods), cfg.Groups); err != nil {
		t.Fatal(err)
	}
	return cfg, x
}

func TestAdviseAggregatesOneCause(t *testing.T) {
	cfg, x := ambiguousIndex(t, 2, 20)
	fs := Advise(Input{Config: cfg, Index: x, SkipRules: true})
	var amb, np []Finding
	for _, f := range fs {
		switch f.Code {
		case CodeEgressAmbiguous:
			amb = append(amb, f)
		case CodeNodePortNoNodes:
			np = append(np, f)
		}
	}
	// Per cluster, two causes: {eg-a, eg-b} for 18 pods, {eg-a, eg-c}
	// for 2; each distinct cause stays visible.
	if len(amb) != 4 {
		t.Fatalf("%d ambiguity findings, want 4:\n%s", len(amb), dump(amb))
	}
	want := map[string]int{
		"c000/Egress/eg-a,c000/Egress/eg-b": 18, "c000/Egress/eg-a,c000/Egress/eg-c": 2,
		"c001/Egress/eg-a,c001/Egress/eg-b": 18, "c001/Egress/eg-a,c001/Egress/eg-c": 2,
	}
	for _, f := range amb {
		k := strings.Join(f.Objects, ",")
		if want[k] != f.Count {
			t.Errorf("%s: count %d, want %d", k, f.Count, want[k])
		}
		if len(f.Sample) != min(f.Count, MaxSample) || !slices.IsSorted(f.Sample) {
			t.Errorf("%s: sample %v", k, f.Sample)
		}
		if !strings.HasPrefix(f.Message, fmt.Sprintf("%d pods of cluster ", f.Count)) {
			t.Errorf("message %q", f.Message)
		}
	}
	if f := amb[0]; f.Sample[0] != "c000/Pod/web/p-00000" || f.Sample[4] != "c000/Pod/web/p-00004" {
		t.Errorf("sample %v", f.Sample)
	}
	if len(np) != 1 || np[0].Count != 12 || !slices.Equal(np[0].Objects, []string{"nodeless"}) || len(np[0].Sample) != MaxSample {
		t.Fatalf("NodePort findings:\n%s", dump(np))
	}
	// The total of instances is what one finding per instance gave.
	n := 0
	for _, c := range []string{"c000", "c001"} {
		n += len(trace.Ambiguous(x, c))
	}
	if n != 40 {
		t.Errorf("%d ambiguous pods, want 40", n)
	}
}

// BenchmarkAdviseAggregated runs the advisor (without the rule analysis)
// on 20 clusters of 2,000 pods that two Egresses with different IPs
// select, and reports the findings and their instances, and the time
// against merely finding the ambiguous pods (trace.Ambiguous over every
// cluster, the baseline) in the same run.
func BenchmarkAdviseAggregated(b *testing.B) {
	cfg, x := ambiguousIndex(b, 20, 2000)
	clusters := x.Clusters()
	var base time.Duration
	var findings, instances int
	for i := 0; i < b.N; i++ {
		start := time.Now()
		n := 0
		for _, c := range clusters {
			n += len(trace.Ambiguous(x, c))
		}
		base += time.Since(start)
		if n != 40000 {
			b.Fatalf("%d ambiguous pods", n)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fs := Advise(Input{Config: cfg, Index: x, SkipRules: true})
		findings, instances = len(fs), 0
		for _, f := range fs {
			if f.Code == CodeEgressAmbiguous {
				instances += max(f.Count, 1)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(instances), "ambiguous-pods")
	b.ReportMetric(float64(b.Elapsed())/float64(base), "x-baseline")
}
