package arm

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	sub := Elem{TypeSubscription, "s1"}
	rg := Elem{TypeResourceGroup, "g1"}
	tests := []struct {
		path string
		want Path
	}{
		{"/subscriptions", Path{Tail: "subscriptions", TailType: TypeSubscription}},
		{"/subscriptions/s1", Path{Elems: []Elem{sub}}},
		{"/subscriptions/s1/", Path{Elems: []Elem{sub}}},
		{"/subscriptions/s1/resourcegroups", Path{Elems: []Elem{sub}, Tail: "resourcegroups", TailType: TypeResourceGroup}},
		{"/SUBSCRIPTIONS/s1/resourceGroups/g1", Path{Elems: []Elem{{TypeSubscription, "s1"}, rg}}},
		{"/subscriptions/s1/providers", Path{Elems: []Elem{sub}, Tail: "providers", TailType: "Microsoft.Resources/providers"}},
		{"/subscriptions/s1/providers/Microsoft.Foo", Path{Elems: []Elem{sub}, Section: "Microsoft.Foo"}},
		{"/subscriptions/s1/providers/Microsoft.Foo/register", Path{Elems: []Elem{sub}, Section: "Microsoft.Foo", Tail: "register", TailType: "Microsoft.Foo/register"}},
		{"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a/deployments/d",
			Path{Elems: []Elem{sub, rg, {"Microsoft.Foo/accounts", "a"}, {"Microsoft.Foo/accounts/deployments", "d"}}}},
		{"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a/listKeys",
			Path{Elems: []Elem{sub, rg, {"Microsoft.Foo/accounts", "a"}}, Tail: "listKeys", TailType: "Microsoft.Foo/accounts/listKeys"}},
		// An extension resource: a new provider section after a complete pair.
		{"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a/providers/Microsoft.Authorization/roleAssignments/r",
			Path{Elems: []Elem{sub, rg, {"Microsoft.Foo/accounts", "a"}, {"Microsoft.Authorization/roleAssignments", "r"}}}},
		// "providers" right after a namespace is a type, not a new section.
		{"/subscriptions/s1/providers/Microsoft.Features/providers/Microsoft.Foo/features/F1",
			Path{Elems: []Elem{sub, {"Microsoft.Features/providers", "Microsoft.Foo"}, {"Microsoft.Features/providers/features", "F1"}}}},
	}
	for _, tt := range tests {
		got, err := ParsePath(tt.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.path, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePath(%q) =\n %+v, want\n %+v", tt.path, got, tt.want)
		}
	}
}

func TestParsePathRejects(t *testing.T) {
	for _, p := range []string{"", "subscriptions", "/subscriptions//resourceGroups", "//"} {
		if _, err := ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) succeeded; want an InvalidResourceId error", p)
		}
	}
	for _, id := range []string{"/subscriptions", "/subscriptions/s/resourceGroups", "/subscriptions/s/providers/Microsoft.Foo", "/"} {
		if _, err := ParseID(id); err == nil {
			t.Errorf("ParseID(%q) succeeded; an id must name a resource", id)
		}
	}
}

func TestFormatIDRoundTrip(t *testing.T) {
	for _, id := range []string{
		"/subscriptions/s1",
		"/subscriptions/s1/resourceGroups/g1",
		"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a",
		"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a/deployments/d",
		"/subscriptions/s1/resourceGroups/g1/providers/Microsoft.Foo/accounts/a/providers/Microsoft.Authorization/roleAssignments/r",
		"/subscriptions/s1/providers/Microsoft.Features/providers/Microsoft.Foo/features/F1",
		"/subscriptions/s1/providers/Microsoft.Foo/locations/eastus/operationStatuses/o1",
	} {
		elems, err := ParseID(id)
		if err != nil {
			t.Fatalf("ParseID(%q): %v", id, err)
		}
		if got := FormatID(elems); got != id {
			t.Errorf("FormatID(ParseID(%q)) = %q", id, got)
		}
	}
}

func TestFormatProviderID(t *testing.T) {
	got := FormatID([]Elem{{TypeSubscription, "s1"}, {TypeProvider, "Microsoft.Foo"}})
	if got != "/subscriptions/s1/providers/Microsoft.Foo" {
		t.Errorf("provider id = %q", got)
	}
}

func TestIDSuffix(t *testing.T) {
	if got := idSuffix(TypeResourceGroup, "Microsoft.Foo/accounts", "a"); got != "/providers/Microsoft.Foo/accounts/a" {
		t.Errorf("account under group: %q", got)
	}
	if got := idSuffix("Microsoft.Foo/accounts", "Microsoft.Foo/accounts/deployments", "d"); got != "/deployments/d" {
		t.Errorf("deployment under account: %q", got)
	}
	if got := idSuffix(TypeSubscription, TypeResourceGroup, "g"); got != "/resourceGroups/g" {
		t.Errorf("group under subscription: %q", got)
	}
}

// FuzzParsePath checks that parsing never panics and that any id it
// accepts formats back to an id that parses to the same elements.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/subscriptions/s/resourceGroups/g/providers/A.B/c/d/e", "/providers/X/providers/Y", "/a/b/providers", "/subscriptions/s/providers/A/providers/B/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		parsed, err := ParsePath(p)
		if err != nil || len(parsed.Elems) == 0 || parsed.Tail != "" || parsed.Section != "" {
			return
		}
		again, err := ParseID(FormatID(parsed.Elems))
		if err != nil {
			t.Fatalf("FormatID(%q) = %q does not parse: %v", p, FormatID(parsed.Elems), err)
		}
		for i := range again {
			if !strings.EqualFold(again[i].Name, parsed.Elems[i].Name) {
				t.Fatalf("round trip of %q changed names: %v vs %v", p, again, parsed.Elems)
			}
		}
	})
}
