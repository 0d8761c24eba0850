package store

import (
	"context"
	"log/slog"
	"strings"

	"go.uber.org/zap/zapcore"
)

// slogCore writes etcd's zap records to the manager's slog logger, from
// level on, so that etcd's own account of a failure is in the manager's
// log.
type slogCore struct {
	log    *slog.Logger
	level  zapcore.Level
	fields []zapcore.Field
}

var _ zapcore.Core = slogCore{}

func (c slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

func (c slogCore) With(fs []zapcore.Field) zapcore.Core {
	c.fields = append(append([]zapcore.Field(nil), c.fields...), fs...)
	return c
}

// benign are warnings etcd gives at every start of kordon's embedded
// member, about choices kordon made on purpose (one unix socket for both
// protocols, large transactions, no auth on a socket only the data
// directory's owner can reach).
var benign = map[string]bool{
	"Running http and grpc server on single port. This is not recommended for production.": true,
	"exceeded recommended request limit":                                                   true,
	"simple token is not cryptographically signed":                                         true,
}

// closedListener is how etcd reports a listener it serves being closed:
// the peer listener kordon closes at start (see startEmbedded), and every
// listener at shutdown.
const closedListener = "use of closed network connection"

func (c slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && !(e.Level == zapcore.WarnLevel && benign[e.Message]) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fs...) {
		f.AddTo(enc)
	}
	if err, ok := enc.Fields["error"].(string); ok && (strings.Contains(err, closedListener) || err == "mux: server closed" || err == "http: Server closed") {
		return nil
	}
	attrs := make([]any, 0, 2*len(enc.Fields))
	for k, v := range enc.Fields {
		attrs = append(attrs, k, v)
	}
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, e.Message, attrs...)
	return nil
}

func (c slogCore) Sync() error { return nil }
