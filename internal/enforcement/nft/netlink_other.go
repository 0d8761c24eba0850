//go:build !linux

package nft

import "errors"

func netlinkAvailable() bool { return false }

func applyNetlink(table string, ops []setOps) error {
	return errors.New("nftables netlink is only on Linux")
}
