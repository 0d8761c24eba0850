package classbench

import (
	"fmt"
	"runtime"
	"time"

	"github.com/kordon-dev/kordon/internal/membership"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/policy"
)

// Compiled is a filter set turned into a DFW ruleset and its classifier.
type Compiled struct {
	Config     *model.Config
	Ruleset    *policy.Ruleset
	Classifier *policy.Classifier
	// Build times: configuration and memberships, ruleset, classifier.
	ConfigTime, CompileTime, ClassifierTime time.Duration
}

// Compile builds the configuration, memberships, ruleset and classifier
// of a filter set.
func Compile(rules []Rule) (*Compiled, error) {
	c := &Compiled{}
	t0 := time.Now()
	cfg, err := Policy(rules)
	if err != nil {
		return nil, err
	}
	idx := membership.New()
	for _, p := range model.Paths(cfg.Groups) {
		if err := idx.SetGroup(p, cfg.Groups[p]); err != nil {
			return nil, err
		}
	}
	idx.TakeDeltas()
	c.Config, c.ConfigTime = cfg, time.Since(t0)
	t1 := time.Now()
	c.Ruleset = policy.Compile(cfg, idx, policy.Point{})
	c.CompileTime = time.Since(t1)
	t2 := time.Now()
	c.Classifier = policy.NewClassifier(c.Ruleset)
	c.ClassifierTime = time.Since(t2)
	return c, nil
}

// Result is one measurement of the classifier against a linear scan.
type Result struct {
	Rules, Flows     int
	Mismatches       int
	FirstMismatch    string
	LinearPerSec     float64
	ClassifierPerSec float64
	Verdicts         map[string]int
}

// Ratio is how many times faster the classifier decided than the scan.
func (r Result) Ratio() float64 { return r.ClassifierPerSec / r.LinearPerSec }

// Measure decides every flow with both the linear scan and the
// classifier, checks they agree, and times each over at least minTime.
func (c *Compiled) Measure(flows []policy.Flow, minTime time.Duration) Result {
	res := Result{Rules: len(c.Ruleset.Rules), Flows: len(flows), Verdicts: map[string]int{}}
	for i := range flows {
		want := c.Ruleset.FirstMatch(&flows[i])
		v, got := c.Classifier.Decide(&flows[i])
		res.Verdicts[v.String()]++
		if want != got {
			if res.Mismatches == 0 {
				res.FirstMismatch = fmt.Sprintf("flow %s: linear scan picks rule %d, classifier %d", flows[i], want, got)
			}
			res.Mismatches++
		}
	}
	res.LinearPerSec = rate(flows, minTime, func(f *policy.Flow) int { return c.Ruleset.FirstMatch(f) })
	res.ClassifierPerSec = rate(flows, minTime, func(f *policy.Flow) int { _, i := c.Classifier.Decide(f); return i })
	return res
}

// rate decides the flows repeatedly for at least minTime and returns
// decisions per second.
func rate(flows []policy.Flow, minTime time.Duration, decide func(*policy.Flow) int) float64 {
	n, sum := 0, 0
	start := time.Now()
	for {
		for i := range flows {
			sum += decide(&flows[i])
		}
		n += len(flows)
		if el := time.Since(start); el >= minTime {
			runtime.KeepAlive(sum)
			return float64(n) / el.Seconds()
		}
	}
}
