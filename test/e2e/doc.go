// Package e2e holds end-to-end tests: they build the kordon binary and run
// it as its users do (kordon serve, the CLI against it), crash it, and,
// for enforcement and adapters, drive real nftables and a real
// kube-apiserver.
package e2e
