package manager

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/store"
)

// syncBuffer is a log destination that tests read while the manager
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUnreadableValuesAreLoggedAlike: loading the store and applying a
// watched revision read every key through the same table, so a value
// that cannot be read is logged (naming its key) and skipped the same
// way by both, whatever kind of record it is.
func TestUnreadableValuesAreLoggedAlike(t *testing.T) {
	st := openStore(t, t.TempDir())
	c := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	e := start(t, st, c)
	bad := []string{store.ProjectsPrefix + "p", store.ClustersPrefix + "c", store.TokensPrefix + "t", store.AgentsPrefix + "a",
		store.AgentReportPrefix + "a", store.StatusPrefix + "c", store.ObjectsPrefix + "/infra/domains/default/groups/g"}
	run := func() (*Manager, *syncBuffer, func()) {
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		m := New(Options{Store: st, Now: c.now, Seal: testRing, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		<-m.ReadyC()
		return m, logs, func() { cancel(); <-done }
	}
	m, logs, stop := run()
	var ops []store.Op
	for _, k := range bad {
		ops = append(ops, store.Op{Key: k, Value: []byte("{not json")})
	}
	rev, err := st.Commit(e.ctx, nil, ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WaitApplied(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	check := func(when string, logs *syncBuffer, m *Manager) {
		t.Helper()
		for _, k := range bad {
			if !strings.Contains(logs.String(), "key="+k) {
				t.Errorf("%s: the unreadable %s was not logged:\n%s", when, k, logs.String())
			}
		}
		if _, ok := m.Project("p"); ok {
			t.Errorf("%s: an unreadable project was kept", when)
		}
		if len(m.Clusters()) != 0 || len(m.Agents()) != 0 {
			t.Errorf("%s: unreadable records were kept", when)
		}
	}
	check("applied from the watch", logs, m)
	stop()
	m, logs, stop = run()
	defer stop()
	check("loaded", logs, m)
}
