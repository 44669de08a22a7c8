// Package armtest is the in-process test harness for ARM providers: a
// server over a fresh SQLite store, a fake authenticator, request helpers
// that fail the test on surprises, and golden-file comparison of JSON
// responses.
//
// It is imported only by _test.go files. A provider's tests pass the kinds
// they exercise:
//
//	e := armtest.New(t, armtest.Kinds(func(srv *arm.Server, _ store.Store) []arm.Kind {
//		return network.Kinds(srv)
//	}))
//	e.Register("Microsoft.Network")
//	r := e.Must(http.StatusOK, http.MethodGet, path+api, nil)
//	armtest.Golden(t, "vnet", r.Body)
package armtest
