package manager

import (
	"errors"
	"sync"
	"time"

	"github.com/kordon-dev/kordon/internal/address"
	"github.com/kordon-dev/kordon/internal/membership"
)

// Event is one change published on the watch stream. Events of one store
// revision share it; a consumer that saw revision R resumes with since=R.
type Event struct {
	Revision int64     `json:"revision"`
	Time     time.Time `json:"time"`
	// Type is "config" (a policy object), "membership" (a group's members
	// changed), "project", "cluster" or "license".
	Type  string      `json:"type"`
	Op    string      `json:"op,omitempty"`
	Kind  string      `json:"kind,omitempty"`
	Path  string      `json:"path,omitempty"`
	Group *GroupDelta `json:"group,omitempty"`
}

// GroupDelta is how a group's members changed.
type GroupDelta struct {
	AddedMembers     []membership.Member `json:"added_members,omitempty"`
	RemovedMembers   []membership.Member `json:"removed_members,omitempty"`
	AddedAddresses   []string            `json:"added_addresses,omitempty"`
	RemovedAddresses []string            `json:"removed_addresses,omitempty"`
	AddedIPPorts     []IPPort            `json:"added_ip_ports,omitempty"`
	RemovedIPPorts   []IPPort            `json:"removed_ip_ports,omitempty"`
}

// IPPort is an address+port member as the API prints it.
type IPPort struct {
	IP       string `json:"ip"`
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
}

// IPPortOf converts a member.
func IPPortOf(m address.IPPort) IPPort {
	return IPPort{IP: m.Addr.String(), Protocol: m.Proto.String(), Port: m.Port}
}

func groupDelta(d membership.Delta) *GroupDelta {
	g := &GroupDelta{AddedMembers: d.AddedMembers, RemovedMembers: d.RemovedMembers}
	for _, r := range d.AddedAddresses {
		g.AddedAddresses = append(g.AddedAddresses, address.FormatRange(r))
	}
	for _, r := range d.RemovedAddresses {
		g.RemovedAddresses = append(g.RemovedAddresses, address.FormatRange(r))
	}
	for _, m := range d.AddedIPPorts {
		g.AddedIPPorts = append(g.AddedIPPorts, IPPortOf(m))
	}
	for _, m := range d.RemovedIPPorts {
		g.RemovedIPPorts = append(g.RemovedIPPorts, IPPortOf(m))
	}
	return g
}

// ErrTooOld means a watcher asked to resume before the oldest revision
// the manager still holds events for: it must read the current state
// again and watch from there.
var ErrTooOld = errors.New("events before that revision are no longer kept; read the current state and watch from its revision")

// eventLog keeps the most recent events for resuming watchers and fans new
// ones out to subscribers.
type eventLog struct {
	mu   sync.Mutex
	buf  []Event
	max  int
	head int // index of the oldest event in buf when full
	full bool
	// complete: every event of a revision above start is in buf.
	start int64
	subs  map[*Subscription]struct{}
}

// Subscription delivers events until closed; a subscriber too slow to
// keep up is closed, and resumes from the last revision it saw.
type Subscription struct {
	C      <-chan Event
	ch     chan Event
	closed bool
	log    *eventLog
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	if !s.closed {
		s.closed = true
		close(s.ch)
		delete(s.log.subs, s)
	}
}

func newEventLog(max int) *eventLog {
	return &eventLog{max: max, subs: map[*Subscription]struct{}{}}
}

// reset forgets every event: state was reloaded at revision rev. Open
// subscriptions end, so their consumers resynchronise.
func (l *eventLog) reset(rev int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf, l.head, l.full, l.start = nil, 0, false, rev
	for s := range l.subs {
		s.closeLocked()
	}
}

func (l *eventLog) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		if len(l.buf) < l.max {
			l.buf = append(l.buf, e)
		} else {
			dropped := l.buf[l.head]
			l.buf[l.head] = e
			l.head = (l.head + 1) % l.max
			l.full = true
			if dropped.Revision > l.start {
				l.start = dropped.Revision
			}
		}
		for s := range l.subs {
			select {
			case s.ch <- e:
			default:
				s.closeLocked()
			}
		}
	}
}

// ordered returns the buffer oldest first.
func (l *eventLog) ordered() []Event {
	if !l.full {
		return l.buf
	}
	return append(append([]Event(nil), l.buf[l.head:]...), l.buf[:l.head]...)
}

// subscribe returns the kept events after revision since and a
// subscription to the ones that follow.
func (l *eventLog) subscribe(since int64) ([]Event, *Subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if since < l.start {
		return nil, nil, ErrTooOld
	}
	var replay []Event
	for _, e := range l.ordered() {
		if e.Revision > since {
			replay = append(replay, e)
		}
	}
	ch := make(chan Event, 4096)
	s := &Subscription{C: ch, ch: ch, log: l}
	l.subs[s] = struct{}{}
	return replay, s, nil
}

// oldest is the revision the kept events start after: a watch may resume
// from it or any later revision.
func (l *eventLog) oldest() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start
}

func (l *eventLog) subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}
