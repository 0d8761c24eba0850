// Package cli owns kordon's command line: cobra commands that parse
// flags, call the packages that do the work, and print tables, JSON or
// YAML. A verb with subcommands has its file (agent.go, cluster.go,
// admin.go for projects, tokens and licenses); remote.go holds the small
// verbs that each make one API call (login, apply, get, delete, status,
// watch); connect.go which client configuration a command uses (and
// says so when reaching or authenticating to a manager fails); root.go
// the tree and the version; output.go how anything is printed. Text that comes from
// outside (a manager, an agent, a file) is printed on one line with
// control characters escaped. Commands return errors; only main exits.
package cli
