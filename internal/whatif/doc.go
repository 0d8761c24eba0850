// Package whatif owns the comparison of two configurations over one
// inventory: which groups gain or lose which members and addresses, and
// which flows change verdict or deciding rule on the distributed firewall
// and on each gateway's firewall. It also reads the flow files such a
// comparison is asked about (CSV of src,dst,protocol,port).
package whatif
