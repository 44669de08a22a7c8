package cognitive

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
)

// CodeInvalidAllowedFqdn refuses an entry of allowedFqdnList.
const CodeInvalidAllowedFqdn = "InvalidAllowedFqdn"

// checkFQDNs validates allowedFqdnList, the host names an account may
// reach when restrictOutboundNetworkAccess is true, and returns them in
// lower case without a trailing dot, duplicates removed. The egress proxy
// compares host names exactly, so entries must be plain host names:
// wildcards and IP addresses are refused rather than silently never
// matching.
func checkFQDNs(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, f := range in {
		target := fmt.Sprintf("properties.allowedFqdnList[%d]", i)
		name := strings.TrimSuffix(strings.ToLower(f), ".")
		if why := fqdnProblem(name); why != "" {
			return nil, arm.InvalidProperty(CodeInvalidAllowedFqdn, target, "The allowed FQDN '%s' is invalid: %s", f, why)
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, nil
}

// fqdnProblem says why name is not a fully qualified host name, or "".
func fqdnProblem(name string) string {
	if _, err := netip.ParseAddr(name); err == nil {
		return "it is an IP address; list host names such as 'contoso.blob.core.windows.net'."
	}
	if strings.Contains(name, "*") {
		return "wildcards are not supported; list each host name, such as 'contoso.blob.core.windows.net'."
	}
	if len(name) == 0 || len(name) > 253 {
		return "a host name is 1 to 253 characters long."
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "use a fully qualified name with a domain, such as 'contoso.blob.core.windows.net'."
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return "each dot-separated label must be 1 to 63 characters long."
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "labels must not start or end with a hyphen."
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("'%c' is not allowed; use letters, digits, hyphens and dots.", c)
			}
		}
	}
	return ""
}
