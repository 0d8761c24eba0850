package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
)

// checkDataDir checks the data directory of an embedded etcd before
// embed.StartEtcd is called. dir is etcd's own data dir (embed.Config.Dir,
// kordon's <datadir>/etcd). Damage is reported as a one-line error naming
// the damaged file, instead of what etcd v3.7 does with it: never become
// ready (and hang in Etcd.Close), panic, exit(1) silently through its
// zap Fatal, or die of SIGBUS.
//
// It accepts what etcd repairs itself and what a crash (kill -9, power
// loss) can leave: a torn last record in the newest WAL file (wal.Repair
// truncates it; only records never committed can be torn, because etcd
// fsyncs entries before raft commits them), one invalid bbolt meta page
// (bbolt uses the other one and etcd replays the WAL), a missing database
// while the WAL still holds every entry. A missing or empty dir (a first
// start) passes.
//
// It rejects:
//   - a WAL file that is empty, cut inside its header, torn although it
//     is not the newest one, or has a CRC, framing or chain error;
//   - a WAL that ends (after etcd's repair) before the raft index the
//     database has applied: records were lost, and etcd would never
//     become ready;
//   - a database shorter than its meta page says (SIGBUS in etcd), with
//     both meta pages invalid, or with a damaged B+tree page (bad page
//     id, type, element bounds, key order, double reference), or an
//     undecodable revision or value in the "key" bucket;
//   - a missing WAL next to an existing database, or a missing database
//     when the WAL starts at a snapshot;
//   - a data dir in use by another process (etcd would wait for ever for
//     the bbolt lock).
//
// It cannot see bytes changed inside a stored value: bbolt keeps no
// checksum of data pages.
//
// Nothing is written. The database is read with pread, never mmap, and
// every field is bounds-checked (bbolt's own Open/tx.Check crash the
// process on such files: SIGBUS, and panics in goroutines bbolt starts
// itself). The check runs in a goroutine with debug.SetPanicOnFault and
// recover and gives up after timeout; after a timeout, do not start etcd
// in this process (the goroutine may still be reading and holds a shared
// lock on the database until it is done).
func checkDataDir(dir string, timeout time.Duration) error {
	type result struct{ err error }
	done := make(chan result, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				done <- result{fmt.Errorf("etcd data in %s is damaged: checking it panicked: %v", dir, r)}
			}
		}()
		done <- result{checkEmbedded(dir)}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.err
	case <-t.C:
		// The goroutine only reads files; it is left to finish on its own.
		return fmt.Errorf("etcd data in %s: checking it took longer than %v", dir, timeout)
	}
}

// damaged is the error of a damaged file.
func damaged(file, format string, a ...any) error {
	return fmt.Errorf("etcd file %s is damaged: %s", file, fmt.Sprintf(format, a...))
}

func checkEmbedded(dir string) error {
	memberDir := filepath.Join(dir, "member")
	walDir := filepath.Join(memberDir, "wal")
	dbPath := filepath.Join(memberDir, "snap", "db")

	walNames, err := walFileNames(walDir)
	if err != nil {
		return err
	}
	dbSize := int64(-1)
	if st, err := os.Stat(dbPath); err == nil {
		dbSize = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("etcd database %s: %w", dbPath, err)
	}
	if len(walNames) == 0 {
		if dbSize > 0 {
			// etcd would bootstrap a new WAL next to an old database
			// whose applied index is ahead of it, and never become ready.
			return fmt.Errorf("etcd data in %s is damaged: the database %s exists but %s holds no WAL file", dir, dbPath, walDir)
		}
		return nil // first start
	}

	// A running etcd holds an exclusive lock on its newest WAL file (and
	// on the database, whose bbolt lock a second etcd waits for forever).
	// Probe it with etcd's own locking, and let go at once.
	newest := filepath.Join(walDir, walNames[len(walNames)-1])
	l, err := fileutil.TryLockFile(newest, os.O_RDWR, fileutil.PrivateFileMode)
	if errors.Is(err, fileutil.ErrLocked) {
		return fmt.Errorf("etcd data in %s is in use by another process (%s is locked)", dir, newest)
	}
	if err != nil {
		return fmt.Errorf("etcd WAL file %s: %w", newest, err)
	}
	l.Close()

	w, err := checkWAL(walDir, walNames)
	if err != nil {
		return err
	}

	if dbSize <= 0 {
		// A missing or empty database is recreated by etcd and rebuilt
		// from the WAL, which is only possible when the WAL still holds
		// every entry, i.e. has no snapshot.
		if w.snapIndex > 0 {
			return fmt.Errorf("etcd database %s is missing or empty, and the WAL starts at snapshot index %d: the data before it is lost", dbPath, w.snapIndex)
		}
		return nil
	}
	b, err := checkBolt(dbPath)
	if err != nil {
		return err
	}
	if b.consistentIndex > w.lastIndex {
		return damaged(w.lastFile, "the WAL ends at raft index %d but the database %s has applied index %d: WAL records were lost (truncated file?)",
			w.lastIndex, dbPath, b.consistentIndex)
	}
	if b.consistentIndex < w.snapIndex {
		return damaged(dbPath, "the database has applied index %d, older than the WAL snapshot at index %d", b.consistentIndex, w.snapIndex)
	}
	return nil
}

// walFileNames lists the WAL segment names etcd would use, oldest first.
func walFileNames(walDir string) ([]string, error) {
	ents, err := os.ReadDir(walDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("etcd WAL directory %s: %w", walDir, err)
	}
	var names []string
	for _, e := range ents {
		var seq, index uint64
		if n, err := fmt.Sscanf(e.Name(), "%016x-%016x.wal", &seq, &index); err != nil || n != 2 || !strings.HasSuffix(e.Name(), ".wal") {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

type walState struct {
	lastFile  string // path of the newest WAL file
	snapIndex uint64 // index of the snapshot etcd starts from
	lastIndex uint64 // last raft index the WAL holds (after etcd's repair)
}

func checkWAL(walDir string, names []string) (walState, error) {
	var ws walState
	ws.lastFile = filepath.Join(walDir, names[len(names)-1])
	// Each file on its own: every one starts with a CRC and a metadata
	// record (etcd writes them to a temporary file that it renames, so
	// they are never torn); only the newest file may end in a torn
	// record, which etcd's wal.Repair truncates away. Decoding each file
	// alone also lets the decoder tell a torn write (an all-zero sector)
	// from corruption.
	var entries []uint64 // index of every entry record, in WAL order
	for i, name := range names {
		p := filepath.Join(walDir, name)
		sc, err := scanWALFile(p, &entries)
		last := i == len(names)-1
		switch {
		case err != nil:
			return ws, damaged(p, "%v", err)
		case sc.tornAt >= 0 && !last:
			return ws, damaged(p, "truncated or torn at offset %d, and it is not the newest WAL file", sc.tornAt)
		case sc.records < 2 || !sc.metadata:
			return ws, damaged(p, "the WAL file is empty or truncated inside its header (%d bytes of records)", sc.end)
		}
	}

	// Then with etcd's own code, as etcd will at start: the snapshot to
	// start from, and the records from there on (CRC chain across files,
	// metadata, snapshot match). Both stop quietly at a torn tail, which
	// is what etcd keeps after its repair.
	lg := zap.NewNop()
	snaps, err := wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return ws, damaged(ws.lastFile, "reading the WAL snapshot records: %v", err)
	}
	start := &walpb.Snapshot{}
	if len(snaps) > 0 {
		start = snaps[len(snaps)-1]
	}
	ws.snapIndex = start.GetIndex()
	if _, err := wal.Verify(lg, walDir, start); err != nil {
		return ws, damaged(ws.lastFile, "reading the WAL from snapshot index %d: %v", ws.snapIndex, err)
	}

	// The last index, as WAL.ReadAll computes it: entries up to the
	// snapshot are skipped, a lower index overwrites the tail, a gap is
	// an error (ErrSliceOutOfRange, fatal in etcd).
	ws.lastIndex = ws.snapIndex
	for _, idx := range entries {
		if idx <= ws.snapIndex {
			continue
		}
		if idx > ws.lastIndex+1 {
			return ws, damaged(ws.lastFile, "the WAL jumps from raft index %d to %d (records missing)", ws.lastIndex, idx)
		}
		ws.lastIndex = idx
	}
	return ws, nil
}

type walScan struct {
	end      int64 // end of the last good record
	records  int
	metadata bool
	tornAt   int64 // offset of a torn last record, -1 if none
}

// scanWALFile decodes one WAL file alone and appends the raft index of
// each entry record to entries.
func scanWALFile(path string, entries *[]uint64) (walScan, error) {
	sc := walScan{tornAt: -1}
	f, err := os.Open(path)
	if err != nil {
		return sc, err
	}
	defer f.Close()
	dec := wal.NewDecoder(fileutil.NewFileReader(f))
	rec := &walpb.Record{}
	for ; ; sc.records++ {
		off := dec.LastOffset()
		err := dec.Decode(rec)
		sc.end = off
		switch {
		case err == nil:
			sc.end = dec.LastOffset()
		case errors.Is(err, io.EOF):
			return sc, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			sc.tornAt = off
			return sc, nil
		default:
			return sc, fmt.Errorf("record %d at offset %d: %v", sc.records, off, err)
		}
		switch t := rec.GetType(); {
		case sc.records == 0 && t != wal.CrcType:
			return sc, fmt.Errorf("the first record is of type %d, not a CRC record", t)
		case t == wal.CrcType:
			// As wal.Repair does: a fresh decoder starts its chain here;
			// a later CRC record must continue it.
			if crc := dec.LastCRC(); sc.records > 0 && crc != 0 && rec.Validate(crc) != nil {
				return sc, fmt.Errorf("record %d at offset %d: CRC chain broken", sc.records, off)
			}
			dec.UpdateCRC(rec.GetCrc())
		case t == wal.MetadataType:
			sc.metadata = true
		case t == wal.EntryType:
			idx, err := entryIndex(rec.GetData())
			if err != nil {
				return sc, fmt.Errorf("record %d at offset %d: %v", sc.records, off, err)
			}
			*entries = append(*entries, idx)
		case t == wal.StateType, t == wal.SnapshotType:
		default:
			return sc, fmt.Errorf("record %d at offset %d: unknown record type %d", sc.records, off, t)
		}
	}
}

// entryIndex reads the Index (field 3) of a raftpb.Entry without
// unmarshalling (and copying) its data.
func entryIndex(b []byte) (uint64, error) {
	var idx uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, fmt.Errorf("raft entry: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 3 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, fmt.Errorf("raft entry: %v", protowire.ParseError(m))
			}
			idx, b = v, b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, fmt.Errorf("raft entry: %v", protowire.ParseError(m))
		}
		b = b[m:]
	}
	return idx, nil
}

// ---------------------------------------------------------------------
// bbolt, read with pread.
//
// bbolt's own Open and tx.Check cannot be used on a damaged file: they read
// through mmap (a short file raises SIGBUS) and trust page headers (panics
// and huge loops), and tx.Check rebuilds the freelist in goroutines that
// bbolt starts itself, where no recover can reach. So the file is walked
// here, checking each bound before using it, with bbolt's rules
// (tx_check.go): page ids and types, element bounds, key order, single
// reference, high-water mark covered by the file.

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elemSize         = 16 // branch and leaf elements are both 16 bytes
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	noFreelist       = ^uint64(0)
	maxDepth         = 64
)

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64
	txid     uint64
}

// parseMeta validates the meta page in b (a whole page) like bbolt's
// Meta.Validate.
func parseMeta(b []byte) (boltMeta, error) {
	var m boltMeta
	if len(b) < pageHeaderSize+64 {
		return m, errors.New("short meta page")
	}
	if flags := binary.LittleEndian.Uint16(b[8:]); flags&metaPageFlag == 0 {
		return m, fmt.Errorf("not a meta page (flags %#x)", flags)
	}
	mb := b[pageHeaderSize : pageHeaderSize+64]
	if binary.LittleEndian.Uint32(mb[0:]) != boltMagic {
		return m, errors.New("invalid magic")
	}
	if v := binary.LittleEndian.Uint32(mb[4:]); v != boltVersion {
		return m, fmt.Errorf("version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(mb[:56])
	if h.Sum64() != binary.LittleEndian.Uint64(mb[56:]) {
		return m, errors.New("checksum mismatch")
	}
	m.pageSize = binary.LittleEndian.Uint32(mb[8:])
	m.root = binary.LittleEndian.Uint64(mb[16:])
	m.freelist = binary.LittleEndian.Uint64(mb[32:])
	m.hwm = binary.LittleEndian.Uint64(mb[40:])
	m.txid = binary.LittleEndian.Uint64(mb[48:])
	return m, nil
}

type boltState struct {
	consistentIndex uint64
}

type boltWalker struct {
	path  string
	f     *os.File
	psz   uint64
	hwm   uint64
	seen  []uint64          // bitmap of pages in use
	bufs  [][]byte          // one page buffer per tree depth
	meta  map[string][]byte // the "meta" bucket of etcd
	nKeys int
}

func checkBolt(path string) (boltState, error) {
	var bs boltState
	f, err := os.Open(path)
	if err != nil {
		return bs, fmt.Errorf("etcd database %s: %w", path, err)
	}
	defer f.Close()
	// Shared bbolt lock (flock) while reading: fails if an etcd has the
	// file open; released when f is closed.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return bs, fmt.Errorf("etcd database %s is in use by another process (locked)", path)
		}
		return bs, fmt.Errorf("etcd database %s: lock: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return bs, fmt.Errorf("etcd database %s: %w", path, err)
	}
	size := st.Size()

	// Meta pages: page 0 tells the page size; if it is invalid, try
	// page 1 at the usual page sizes (as bbolt does).
	buf := make([]byte, 64<<10)
	nr, _ := f.ReadAt(buf, 0)
	buf = buf[:nr]
	var metas [2]boltMeta
	var errs [2]error
	metas[0], errs[0] = parseMeta(buf)
	var psz uint64
	if errs[0] == nil {
		psz = uint64(metas[0].pageSize)
		if psz < 512 || psz > 1<<20 || psz&(psz-1) != 0 {
			errs[0] = fmt.Errorf("page size %d", psz)
			psz = 0
		}
	}
	if psz == 0 {
		for _, c := range []uint64{4096, 8192, 16384, 32768, 65536} {
			if c < uint64(len(buf)) {
				if m, err := parseMeta(buf[c:]); err == nil && uint64(m.pageSize) == c {
					psz = c
					break
				}
			}
		}
	}
	if psz == 0 {
		_, err1 := parseMeta(buf[min(4096, len(buf)):])
		return bs, damaged(path, "both bbolt meta pages are invalid (page 0: %v; page 1: %v)", errs[0], err1)
	}
	if uint64(size) < 2*psz {
		return bs, damaged(path, "%d bytes, shorter than its two meta pages", size)
	}
	metas[1], errs[1] = parseMeta(buf[psz:])
	// bbolt uses the valid meta with the highest txid.
	cur := -1
	for i := range metas {
		if errs[i] == nil && uint64(metas[i].pageSize) == psz && (cur < 0 || metas[i].txid > metas[cur].txid) {
			cur = i
		}
	}
	if cur < 0 {
		return bs, damaged(path, "both bbolt meta pages are invalid (%v; %v)", errs[0], errs[1])
	}
	m := metas[cur]
	if m.hwm < 2 || m.hwm > uint64(size)/psz {
		return bs, damaged(path, "the file has %d bytes but its meta page says it holds %d pages of %d bytes (%d bytes): truncated",
			size, m.hwm, psz, m.hwm*psz)
	}

	w := &boltWalker{path: path, f: f, psz: psz, hwm: m.hwm, seen: make([]uint64, (m.hwm+63)/64), meta: map[string][]byte{}}
	w.seen[0] |= 3 // the meta pages
	if m.freelist != noFreelist {
		if err := w.checkFreelistPage(m.freelist); err != nil {
			return bs, err
		}
	}
	if m.root < 2 || m.root >= m.hwm {
		return bs, damaged(path, "root bucket page %d out of range [2,%d)", m.root, m.hwm)
	}
	if _, err := w.walk(m.root, nil, nil, nil, 0, nil); err != nil {
		return bs, err
	}
	ci, ok := w.meta["consistent_index"]
	if !ok {
		// A database etcd has never applied anything to.
		return bs, nil
	}
	if len(ci) != 8 {
		return bs, damaged(path, "consistent_index is %d bytes, want 8", len(ci))
	}
	bs.consistentIndex = binary.BigEndian.Uint64(ci)
	return bs, nil
}

// readPage reads page id with its overflow pages into the buffer of depth
// (keys of a page stay valid while its children, one level deeper, are
// read).
func (w *boltWalker) readPage(id uint64, depth int) ([]byte, error) {
	if id < 2 || id >= w.hwm {
		return nil, damaged(w.path, "reference to page %d, outside [2,%d)", id, w.hwm)
	}
	for len(w.bufs) <= depth {
		w.bufs = append(w.bufs, make([]byte, w.psz))
	}
	b := w.bufs[depth][:w.psz]
	if _, err := w.f.ReadAt(b, int64(id*w.psz)); err != nil {
		return nil, damaged(w.path, "reading page %d: %v", id, err)
	}
	if got := binary.LittleEndian.Uint64(b); got != id {
		return nil, damaged(w.path, "page %d identifies itself as page %d", id, got)
	}
	overflow := uint64(binary.LittleEndian.Uint32(b[12:]))
	if id+overflow >= w.hwm {
		return nil, damaged(w.path, "page %d: %d overflow pages run past the last page %d", id, overflow, w.hwm-1)
	}
	for p := id; p <= id+overflow; p++ {
		if w.seen[p/64]&(1<<(p%64)) != 0 {
			return nil, damaged(w.path, "page %d is referenced twice", p)
		}
		w.seen[p/64] |= 1 << (p % 64)
	}
	if overflow == 0 {
		return b, nil
	}
	n := (overflow + 1) * w.psz
	if uint64(cap(w.bufs[depth])) < n {
		w.bufs[depth] = make([]byte, n)
	}
	b = w.bufs[depth][:n]
	if _, err := w.f.ReadAt(b, int64(id*w.psz)); err != nil {
		return nil, damaged(w.path, "reading page %d: %v", id, err)
	}
	return b, nil
}

func (w *boltWalker) checkFreelistPage(id uint64) error {
	b, err := w.readPage(id, 0)
	if err != nil {
		return err
	}
	if flags := binary.LittleEndian.Uint16(b[8:]); flags != freelistPageFlag {
		return damaged(w.path, "freelist page %d has type flags %#x", id, flags)
	}
	count := uint64(binary.LittleEndian.Uint16(b[10:]))
	start := uint64(pageHeaderSize)
	if count == 0xFFFF {
		if len(b) < pageHeaderSize+8 {
			return damaged(w.path, "freelist page %d is short", id)
		}
		count = binary.LittleEndian.Uint64(b[pageHeaderSize:])
		start += 8
	}
	if count > (uint64(len(b))-start)/8 {
		return damaged(w.path, "freelist page %d: %d ids do not fit", id, count)
	}
	for i := uint64(0); i < count; i++ {
		if fid := binary.LittleEndian.Uint64(b[start+8*i:]); fid < 2 || fid >= w.hwm {
			return damaged(w.path, "freelist page %d lists page %d, outside [2,%d)", id, fid, w.hwm)
		}
	}
	return nil
}

type elem struct {
	flags uint32
	key   []byte
	value []byte // leaf only
	child uint64 // branch only
}

// elements decodes the elements of a branch or leaf page held in b.
func (w *boltWalker) elements(b []byte, where string) (isLeaf bool, els []elem, err error) {
	if len(b) < pageHeaderSize {
		return false, nil, damaged(w.path, "%s: short page", where)
	}
	flags := binary.LittleEndian.Uint16(b[8:])
	count := uint64(binary.LittleEndian.Uint16(b[10:]))
	switch flags {
	case branchPageFlag:
	case leafPageFlag:
		isLeaf = true
	default:
		return false, nil, damaged(w.path, "%s: page type flags %#x, want a branch or leaf page", where, flags)
	}
	n := uint64(len(b))
	if pageHeaderSize+count*elemSize > n {
		return false, nil, damaged(w.path, "%s: %d elements do not fit in %d bytes", where, count, n)
	}
	els = make([]elem, count)
	for i := uint64(0); i < count; i++ {
		e := b[pageHeaderSize+i*elemSize:]
		base := pageHeaderSize + i*elemSize
		var pos, ksize, vsize uint64
		if isLeaf {
			els[i].flags = binary.LittleEndian.Uint32(e[0:])
			pos = uint64(binary.LittleEndian.Uint32(e[4:]))
			ksize = uint64(binary.LittleEndian.Uint32(e[8:]))
			vsize = uint64(binary.LittleEndian.Uint32(e[12:]))
		} else {
			pos = uint64(binary.LittleEndian.Uint32(e[0:]))
			ksize = uint64(binary.LittleEndian.Uint32(e[4:]))
			els[i].child = binary.LittleEndian.Uint64(e[8:])
		}
		kstart := base + pos
		if kstart+ksize+vsize > n || pos < (count-i)*elemSize {
			return false, nil, damaged(w.path, "%s: element %d (pos %d, key %d bytes, value %d bytes) lies outside the page", where, i, pos, ksize, vsize)
		}
		els[i].key = b[kstart : kstart+ksize]
		els[i].value = b[kstart+ksize : kstart+ksize+vsize]
	}
	return isLeaf, els, nil
}

// walk checks the subtree at page id (or the inline page in inline) whose
// keys must lie in [minKey, maxKey), calls leaf for each key/value that is
// not a bucket, and returns the subtree's largest key.
func (w *boltWalker) walk(id uint64, inline []byte, minKey, maxKey []byte, depth int, leaf func(k, v []byte) error) ([]byte, error) {
	if depth > maxDepth {
		return nil, damaged(w.path, "page %d: tree deeper than %d", id, maxDepth)
	}
	b := inline
	where := "inline bucket page"
	if b == nil {
		var err error
		if b, err = w.readPage(id, depth); err != nil {
			return nil, err
		}
		where = fmt.Sprintf("page %d", id)
	}
	isLeaf, els, err := w.elements(b, where)
	if err != nil {
		return nil, err
	}
	var maxInSubtree []byte
	running := minKey
	for i, e := range els {
		if (i == 0 && running != nil && bytes.Compare(running, e.key) > 0) || (i > 0 && bytes.Compare(running, e.key) >= 0) {
			return nil, damaged(w.path, "%s: key %d out of order", where, i)
		}
		if maxKey != nil && bytes.Compare(e.key, maxKey) >= 0 {
			return nil, damaged(w.path, "%s: key %d is not below its parent's next key", where, i)
		}
		if !isLeaf {
			next := maxKey
			if i+1 < len(els) {
				next = els[i+1].key
			}
			m, err := w.walk(e.child, nil, e.key, next, depth+1, leaf)
			if err != nil {
				return nil, err
			}
			maxInSubtree, running = m, m
			continue
		}
		running, maxInSubtree = e.key, e.key
		if e.flags&bucketLeafFlag == 0 {
			if leaf != nil {
				if err := leaf(e.key, e.value); err != nil {
					return nil, damaged(w.path, "%s: %v", where, err)
				}
			}
			continue
		}
		if len(e.value) < 16 {
			return nil, damaged(w.path, "%s: bucket %q has a %d-byte header", where, e.key, len(e.value))
		}
		root := binary.LittleEndian.Uint64(e.value)
		var sub []byte
		if root == 0 {
			sub = e.value[16:]
		}
		if _, err := w.walk(root, sub, nil, nil, depth+1, w.leafCheck(string(e.key))); err != nil {
			return nil, err
		}
	}
	return maxInSubtree, nil
}

// leafCheck returns the check of the keys and values of an etcd bucket:
// "meta" is collected, "key" holds revisions and mvccpb.KeyValue values.
func (w *boltWalker) leafCheck(bucket string) func(k, v []byte) error {
	switch bucket {
	case "meta":
		return func(k, v []byte) error { w.meta[string(k)] = bytes.Clone(v); return nil }
	case "key":
		return func(k, v []byte) error {
			w.nKeys++
			if !(len(k) == 17 || len(k) == 18 && k[17] == 't') || k[8] != '_' {
				return fmt.Errorf("key %x is not a revision", k)
			}
			return checkKeyValue(v, len(k) == 17, int64(binary.BigEndian.Uint64(k)))
		}
	}
	return nil
}

// checkKeyValue checks that v is an mvccpb.KeyValue (wire format, without
// copying it) and, unless it is a tombstone, that its mod_revision is rev.
func checkKeyValue(v []byte, live bool, rev int64) error {
	var modRev int64
	var haveKey bool
	for b := v; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("revision %d: value does not decode: %v", rev, protowire.ParseError(n))
		}
		b = b[n:]
		want := protowire.VarintType
		if num == 1 || num == 5 { // key, value
			want = protowire.BytesType
		}
		if num >= 1 && num <= 6 && typ != want {
			return fmt.Errorf("revision %d: value field %d has wire type %d", rev, num, typ)
		}
		if num == 3 {
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return fmt.Errorf("revision %d: value does not decode: %v", rev, protowire.ParseError(m))
			}
			modRev, b = int64(x), b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return fmt.Errorf("revision %d: value does not decode: %v", rev, protowire.ParseError(m))
		}
		haveKey = haveKey || num == 1
		b = b[m:]
	}
	if !haveKey {
		return fmt.Errorf("revision %d: value has no key", rev)
	}
	if live && modRev != rev {
		return fmt.Errorf("revision %d: value has mod revision %d", rev, modRev)
	}
	return nil
}
