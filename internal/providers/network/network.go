// Package network provides the Microsoft.Network types: virtual networks
// and their subnets (address spaces, service endpoints).
package network

import "github.com/perimeterhq/perimeter/internal/arm"

// Kinds returns the kinds of this package, bound to srv.
func Kinds(srv *arm.Server) []arm.Kind { return nil }
