package arm

import (
	"net/http"
	"strings"
)

// Elem is one named element of a resource id: a fully qualified type and a
// name. "/subscriptions/s/resourceGroups/g" has two elements,
// {Microsoft.Resources/subscriptions s} and {Microsoft.Resources/resourceGroups g}.
type Elem struct {
	Type string
	Name string
}

// Path is a parsed ARM request path.
type Path struct {
	// Elems are the named elements, outermost first.
	Elems []Elem
	// Section is the namespace of a provider section that has no type/name
	// pair yet: "/subscriptions/s/providers/Microsoft.Foo" (the provider
	// resource) or "/subscriptions/s/providers/Microsoft.Foo/register".
	Section string
	// Tail is a last segment without a name: a collection (".../accounts")
	// or an action ("/listKeys").
	Tail string
	// TailType is the type Tail names if it is a collection.
	TailType string
}

const resourcesNS = "Microsoft.Resources"

// bareTypes are the Microsoft.Resources segments that appear in paths
// without a "providers/Microsoft.Resources" section, in canonical casing.
var bareTypes = [...]string{"subscriptions", "resourceGroups", "operationresults", "resources", "providers", "locations", "tagNames"}

// bareElems are the bare types that name resources (type and name), as
// opposed to collections only; FormatID renders them without a section.
var bareElems = [...]string{"subscriptions", "resourceGroups", "operationresults", "tagNames"}

// ParsePath parses the path of an ARM request. It checks only the grammar;
// whether the types exist is the router's business.
func ParsePath(p string) (Path, error) {
	if p == "" || p[0] != '/' {
		return Path{}, invalidID(p, "it must start with '/'")
	}
	p = strings.TrimSuffix(p, "/")
	var out Path
	if p == "" {
		return out, nil
	}
	segs := strings.Split(p[1:], "/")
	for _, s := range segs {
		if s == "" {
			return Path{}, invalidID(p, "it has an empty segment ('//')")
		}
	}
	ns := ""       // namespace of the current provider section
	pairs := 0     // type/name pairs in the current section
	prevType := "" // type of the previous element in this section
	for i := 0; i < len(segs); {
		seg := segs[i]
		if strings.EqualFold(seg, "providers") && (ns == "" || pairs > 0) && i+1 < len(segs) {
			ns, pairs, prevType = segs[i+1], 0, ""
			i += 2
			if i == len(segs) {
				out.Section = ns
			}
			continue
		}
		var typ string
		switch {
		case ns == "":
			typ = resourcesNS + "/" + canonicalBare(seg)
		case pairs == 0:
			typ = ns + "/" + seg
		default:
			typ = prevType + "/" + seg
		}
		if i+1 == len(segs) {
			if ns != "" && pairs == 0 {
				out.Section = ns
			}
			out.Tail, out.TailType = seg, typ
			break
		}
		out.Elems = append(out.Elems, Elem{Type: typ, Name: segs[i+1]})
		prevType = typ
		pairs++
		i += 2
	}
	return out, nil
}

func canonicalBare(seg string) string {
	for _, b := range bareTypes {
		if strings.EqualFold(seg, b) {
			return b
		}
	}
	return seg
}

// ParseID parses a resource id that names one resource (no trailing
// collection or action), as found in request bodies.
func ParseID(id string) ([]Elem, error) {
	p, err := ParsePath(id)
	if err != nil {
		return nil, err
	}
	if p.Tail != "" || p.Section != "" || len(p.Elems) == 0 {
		return nil, invalidID(id, "it must name a resource: pairs of type and name after the scope")
	}
	return p.Elems, nil
}

func invalidID(id, why string) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalidResourceID, "The resource id '%s' is not valid: %s.", id, why)
}

// FormatID renders elements as a canonical resource id: Microsoft.Resources
// scopes bare, a "providers/{namespace}" section whenever the namespace
// changes or a type does not extend the previous one.
func FormatID(elems []Elem) string {
	var b strings.Builder
	prev := ""
	for _, e := range elems {
		ns, rest, _ := strings.Cut(e.Type, "/")
		switch {
		case strings.EqualFold(e.Type, TypeProvider):
			b.WriteString("/providers/" + e.Name)
			prev = ""
			continue
		case strings.EqualFold(ns, resourcesNS) && !strings.Contains(rest, "/") && isBare(rest):
			b.WriteString("/" + rest)
		case prev != "" && hasTypePrefix(e.Type, prev):
			b.WriteString("/" + lastSegment(e.Type))
		default:
			b.WriteString("/providers/" + ns + "/" + rest)
		}
		b.WriteString("/" + e.Name)
		prev = e.Type
	}
	return b.String()
}

func isBare(t string) bool {
	for _, b := range bareElems {
		if strings.EqualFold(t, b) {
			return true
		}
	}
	return false
}

func hasTypePrefix(t, parent string) bool {
	return len(t) > len(parent) && t[len(parent)] == '/' && strings.EqualFold(t[:len(parent)], parent) &&
		!strings.Contains(t[len(parent)+1:], "/")
}

func lastSegment(t string) string { return t[strings.LastIndexByte(t, '/')+1:] }

// Namespace returns the provider namespace of a fully qualified type.
func Namespace(typ string) string { ns, _, _ := strings.Cut(typ, "/"); return ns }

// SubscriptionOf returns the subscription id an id belongs to, or "".
func SubscriptionOf(elems []Elem) string {
	if len(elems) > 0 && strings.EqualFold(elems[0].Type, resourcesNS+"/subscriptions") {
		return elems[0].Name
	}
	return ""
}

// ResourceGroupOf returns the resource group an id belongs to, or "".
func ResourceGroupOf(elems []Elem) string {
	if len(elems) > 1 && strings.EqualFold(elems[1].Type, TypeResourceGroup) {
		return elems[1].Name
	}
	return ""
}

// Well-known types of the generic machinery.
const (
	TypeSubscription  = "Microsoft.Resources/subscriptions"
	TypeResourceGroup = "Microsoft.Resources/resourceGroups"
	TypeProvider      = "Microsoft.Resources/providers"
	TypeResources     = "Microsoft.Resources/resources"
)
