// Package cli owns kordon's command line: one file per verb, each a cobra
// command that parses flags, calls the packages that do the work, and
// prints tables, JSON or YAML. Commands return errors; only main exits.
package cli
