// Package address owns the small value types every stage shares: address
// ranges as NSX writes them (an IP, a CIDR or an "a-b" range), IP
// protocols, ports and port ranges, and the (IP, protocol, port) members
// that NodePort and NodePortLocal resolve to. It parses and prints them in
// NSX's syntax and nothing else.
package address
