package apiserver

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
)

type netipAddr = netip.Addr

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func newTLSServer(h http.Handler) *httptest.Server { return httptest.NewTLSServer(h) }
