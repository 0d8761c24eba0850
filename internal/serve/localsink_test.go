package serve

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kordon-dev/kordon/internal/adapter"
	"github.com/kordon-dev/kordon/internal/manager"
)

// TestLocalErr: the in-process sink reports the manager's refusals as
// the adapter's errors, as HTTPSink does the API's statuses, so that an
// adapter resynchronises or stops the same way in and out of process.
func TestLocalErr(t *testing.T) {
	moved := &manager.WriteError{Kind: manager.ErrConflict, Message: "inventory of c1 is at revision 9"}
	gone := &manager.WriteError{Kind: manager.ErrNotFound, Message: `cluster "c1" is not registered`}
	other := fmt.Errorf("etcd: %w", errors.New("no leader"))
	if err := localErr(moved); !errors.Is(err, adapter.ErrMoved) {
		t.Errorf("a conflict: %v", err)
	}
	if err := localErr(gone); !errors.Is(err, adapter.ErrRevoked) || err.Error() != adapter.ErrRevoked.Error()+`: cluster "c1" is not registered` {
		t.Errorf("an unregistered cluster: %v", err)
	}
	if err := localErr(other); err != other || localErr(nil) != nil {
		t.Errorf("other errors pass as they are: %v", err)
	}
}
