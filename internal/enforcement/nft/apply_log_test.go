package nft

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/kordon-dev/kordon/internal/realization"
)

// TestApplierLogsTransactions: at debug level each transaction's text is
// logged; at info nothing is.
func TestApplierLogsTransactions(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf bytes.Buffer
		cfg, idx := exampleConfig(t)
		a := NewApplier(knftables.NewFake(knftables.InetFamily, DefaultTable))
		a.SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level})))
		if _, err := a.Apply(context.Background(), realization.ForGateway(cfg, idx, 1, "/infra/tier-1s/t1-edge")); err != nil {
			t.Fatal(err)
		}
		logged := strings.Contains(buf.String(), "nftables transaction") && strings.Contains(buf.String(), "add table inet kordon")
		if logged != (level == slog.LevelDebug) {
			t.Errorf("level %v: logged %v:\n%s", level, logged, buf.String())
		}
	}
}
