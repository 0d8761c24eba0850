package manager

import (
	"github.com/kordon-dev/kordon/internal/model"
)

// applyMemo is what an apply of this manager leaves for the next: which
// objects it wrote from which bytes, and the configuration it validated.
type applyMemo struct {
	written writtenDigests
	// validConfigRev is the ModRevision of store.ConfigRevKey that a
	// configuration validated without a problem was committed at. While
	// the state's is the same, the configuration is that one, and an
	// apply validates only what it changes (model.Config.ValidateChange).
	validConfigRev int64
}

// writtenDigests remembers, for each object an apply of this manager
// wrote from a document, the digest of the document's bytes for it
// (model.Child.Sum) and the store revision of that write. An object whose
// stored ModRevision is still that revision is exactly what those bytes
// made, so a later document giving the same bytes for it leaves it as it
// is: the apply neither compares its fields nor writes it (the whole
// configuration is still validated). Only this manager's own commits
// fill it, and a digest is a SHA-256 of exact bytes, so a document can
// match an entry only by sending the bytes that were validated and
// written; anything else that writes the object changes its ModRevision
// and voids the entry.
type writtenDigests map[string]writtenDigest

type writtenDigest struct {
	sum         model.Digest
	modRevision int64
}

// storedLocked returns the entries still true of the state (the caller
// holds m.mu for reading, and writeMu) and drops the ones that never
// will be again: the object was written since, or deleted.
func (m *Manager) storedLocked() map[string]model.Digest {
	out := make(map[string]model.Digest, len(m.memo.written))
	for p, w := range m.memo.written {
		md, ok := m.meta[p]
		switch {
		case ok && md.ModRevision == w.modRevision:
			out[p] = w.sum
		case ok && md.ModRevision > w.modRevision, !ok && m.rev >= w.modRevision:
			delete(m.memo.written, p)
		}
	}
	return out
}

// recordWritten notes what a commit at rev wrote (writeMu held): the
// configuration it validated and each upsert of an object the document
// gave bytes for; every other changed path forgets what it had.
func (m *Manager) recordWritten(changes []model.Change, sums map[string]model.Digest, rev int64) {
	m.memo.validConfigRev = rev // store.ConfigRevKey is written with the objects
	if m.memo.written == nil {
		m.memo.written = writtenDigests{}
	}
	for _, c := range changes {
		sum, ok := sums[c.Path]
		if c.Op != model.OpUpsert || !ok {
			delete(m.memo.written, c.Path)
			continue
		}
		m.memo.written[c.Path] = writtenDigest{sum: sum, modRevision: rev}
	}
}

// validate validates next, made with changes from the snapshot's
// configuration: only what changed when the snapshot's configuration is
// one this manager validated (writeMu held).
func (m *Manager) validate(snap snapshot, next *model.Config, changes []model.Change) model.Errors {
	if snap.configRev != 0 && snap.configRev == m.memo.validConfigRev {
		return next.ValidateChange(changes)
	}
	return next.Validate()
}
