package cmdutil

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// VersionInfo is what a kordon binary says of its build.
type VersionInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	Modified   bool   `json:"modified,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Go         string `json:"go"`
}

// BuildVersion is this binary's version: what -ldflags set, else what
// the go command stamped.
func BuildVersion(version, commit string) VersionInfo {
	bi, _ := debug.ReadBuildInfo()
	return VersionOf(version, commit, bi)
}

// VersionOf combines what -ldflags set with the build information the go
// command stamps (bi may be nil).
func VersionOf(version, commit string, bi *debug.BuildInfo) VersionInfo {
	v := VersionInfo{Version: version, Commit: commit, Go: runtime.Version()}
	if bi == nil {
		if v.Version == "" {
			v.Version = "dev"
		}
		return v
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	if (v.Version == "" || v.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.CommitTime = s.Value
		}
	}
	return v
}

// String is the version, its commit and whether the tree had changes.
func (v VersionInfo) String() string {
	var extra []string
	if v.Commit != "" {
		extra = append(extra, "commit "+v.Commit)
	}
	if v.Modified {
		extra = append(extra, "modified")
	}
	if v.CommitTime != "" {
		extra = append(extra, v.CommitTime)
	}
	if len(extra) == 0 {
		return v.Version
	}
	return v.Version + " (" + strings.Join(extra, ", ") + ")"
}

// Short is the version as a manager, an adapter or an agent reports it:
// a development build is named by its commit.
func (v VersionInfo) Short() string {
	if v.Version != "dev" || v.Commit == "" {
		return v.Version
	}
	s := "dev-" + v.Commit[:min(12, len(v.Commit))]
	if v.Modified {
		s += "-modified"
	}
	return s
}
