package nft

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// netlinkAvailable reports whether element changes can go through
// netlink: nftables' netlink interface needs CAP_NET_ADMIN, which kordon
// takes running as root.
func netlinkAvailable() bool { return os.Geteuid() == 0 }

// netlinkMaxSetElements is how many elements one message carries.
const netlinkMaxSetElements = 256

// applyNetlink sends the element changes to table (family inet) as one
// netlink batch: every removal, then every addition. The kernel applies a
// batch atomically: when it fails, the table is as it was. The socket is
// opened in the calling thread's network namespace.
func applyNetlink(table string, ops []setOps) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	send := func(s *nftables.Set, els []binElement, del bool) error {
		for len(els) > 0 {
			k := min(len(els), netlinkMaxSetElements)
			vals := make([]nftables.SetElement, k)
			for i, e := range els[:k] {
				vals[i] = nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd, IntervalEnd: e.End}
				if e.Goto != "" && !del {
					vals[i].VerdictData = &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Goto}
				}
			}
			var err error
			if del {
				err = c.SetDeleteElements(s, vals)
			} else {
				err = c.SetAddElements(s, vals)
			}
			if err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
			els = els[k:]
		}
		return nil
	}
	for _, o := range ops {
		if err := send(&nftables.Set{Table: t, Name: o.Set}, o.Removed, true); err != nil {
			return err
		}
	}
	for _, o := range ops {
		if err := send(&nftables.Set{Table: t, Name: o.Set}, o.Added, false); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		// The kernel answers each message of a refused batch: keep the
		// first answer.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return errors.New(msg)
	}
	return nil
}
