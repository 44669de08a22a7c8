package authz

import (
	"strings"
	"testing"
)

const (
	ownerGUID  = RoleOwner
	aiUserGUID = RoleAzureAIUser
)

func TestParseCondition(t *testing.T) {
	const rd = "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
	tests := []struct {
		in   string
		want string // canonical rendering
	}{
		{refDelegationCondition,
			"((!ActionMatches{'Microsoft.Authorization/roleAssignments/write'} OR " + rd + " ForAnyOfAnyValues:GuidEquals {53ca6127-db72-4b80-b1b0-d745d6d5456d}) AND " +
				"(!ActionMatches{'Microsoft.Authorization/roleAssignments/delete'} OR @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {53ca6127-db72-4b80-b1b0-d745d6d5456d}))"},
		// Azure's documented layout: newlines and indentation between tokens.
		{"(\n (\n  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})\n )\n OR\n (\n  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]\n  StringEquals 'blobs-example-container'\n )\n)",
			"(!ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} OR @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals {'blobs-example-container'})"},
		{"\t@Request[ x ]\r\nForAnyOfAnyValues:GuidEquals\n{\n53CA6127-DB72-4B80-B1B0-D745D6D5456D ,\n'8e3af657-a8ff-443c-a75c-2fe8c4bcb635'\n}\n",
			"@Request[x] ForAnyOfAnyValues:GuidEquals {53ca6127-db72-4b80-b1b0-d745d6d5456d, 8e3af657-a8ff-443c-a75c-2fe8c4bcb635}"},
		// Keywords and operator names in any case; && || NOT as synonyms.
		{"actionmatches{'a.b/c'} and not actionmatches{'a.b/d'}", "(ActionMatches{'a.b/c'} AND !ActionMatches{'a.b/d'})"},
		{"ActionMatches{'a.b/c'} && ActionMatches{'a.b/d'} AnD ActionMatches{'a.b/e'}", "(ActionMatches{'a.b/c'} AND ActionMatches{'a.b/d'} AND ActionMatches{'a.b/e'})"},
		{"ActionMatches{'a.b/c'}||ActionMatches{'a.b/d'}", "(ActionMatches{'a.b/c'} OR ActionMatches{'a.b/d'})"},
		{"@Resource[t] foranyofallvalues:stringnotequalsignorecase {'a','b'}", "@Resource[t] ForAnyOfAllValues:StringNotEqualsIgnoreCase {'a', 'b'}"},
		// Grouping decides, and redundant parentheses vanish.
		{"(ActionMatches{'a.b/c'} AND ActionMatches{'a.b/d'}) OR ActionMatches{'a.b/e'}", "((ActionMatches{'a.b/c'} AND ActionMatches{'a.b/d'}) OR ActionMatches{'a.b/e'})"},
		{"ActionMatches{'a.b/c'} AND (ActionMatches{'a.b/d'} OR ActionMatches{'a.b/e'})", "(ActionMatches{'a.b/c'} AND (ActionMatches{'a.b/d'} OR ActionMatches{'a.b/e'}))"},
		{"(((ActionMatches{'a.b/c'})))", "ActionMatches{'a.b/c'}"},
		{"!!ActionMatches{'a.b/c'}", "!!ActionMatches{'a.b/c'}"},
		{"NOT (ActionMatches{'a.b/c'} OR ActionMatches{'a.b/d'})", "!(ActionMatches{'a.b/c'} OR ActionMatches{'a.b/d'})"},
		{"ActionMatches{'a.b/c', 'Microsoft.Authorization/*'}", "ActionMatches{'a.b/c', 'Microsoft.Authorization/*'}"},
		// One value without braces, or in braces.
		{"@Request[x] StringEquals 'v w'", "@Request[x] StringEquals {'v w'}"},
		{"@Request[x] GuidNotEquals{8e3af657-a8ff-443c-a75c-2fe8c4bcb635}", "@Request[x] GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635}"},
		{"@Request[x] StringEquals ''", "@Request[x] StringEquals {''}"},
		{"@Request[tags:Project<$key_case_sensitive$>] StringStartsWith 'Cas'", "@Request[tags:Project<$key_case_sensitive$>] StringStartsWith {'Cas'}"},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.in)
		if err != nil {
			t.Errorf("ParseCondition(%q): %v", tt.in, err)
			continue
		}
		if got := c.String(); got != tt.want {
			t.Errorf("ParseCondition(%q) =\n  %s\nwant\n  %s", tt.in, got, tt.want)
		}
	}
}

func TestParseConditionErrors(t *testing.T) {
	tests := []struct {
		in, want string // want: part of the error message
	}{
		{"", "empty"},
		{" \n\t", "empty"},
		{"ActionMatches{'a.b/c'} AND", "found end of condition"},
		{"ActionMatches{'a.b/c'} AND ActionMatches{'a.b/d'} OR ActionMatches{'a.b/e'}", "cannot be mixed without parentheses"},
		{"ActionMatches{'a.b/c'} || ActionMatches{'a.b/d'} && ActionMatches{'a.b/e'}", "cannot be mixed without parentheses"},
		{"(ActionMatches{'a.b/c'}", "expected ')' to close the '(' at offset 0"},
		{"ActionMatches{'a.b/c'})", "unexpected \")\" after the end"},
		{"ActionMatches{'a.b/c'} ActionMatches{'a.b/d'}", "after the end of the condition"},
		{"ActionMatches{'a.b/c}", "string is not closed"},
		{"ActionMatches{'a.b/c'", "'}' to close ActionMatches"},
		{"ActionMatches 'a.b/c'", "'{' after ActionMatches"},
		{"ActionMatches{}", "expected a quoted action pattern"},
		{"ActionMatches{a.b/c}", "expected a quoted action pattern"},
		{"ActionMatches{'not an action'}", "remove the whitespace"},
		{"SubOperationMatches{'Blob.List'}", "SubOperationMatches is not supported"},
		{"@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Dept] StringEquals 'x'", "@Principal attributes are not supported"},
		{"@Environment[isPrivateLink] BoolEquals true", "@Environment attributes are not supported"},
		{"@Foo[x] StringEquals 'a'", "unknown attribute source @Foo"},
		{"@Request x StringEquals 'a'", "expected '[' after @Request"},
		{"@Request[x StringEquals 'a'", "attribute name is not closed"},
		{"@Request[ ] StringEquals 'a'", "attribute name is empty"},
		{"@Request[a b] StringEquals 'a'", "contains ' '"},
		{"@Request[x] 'a'", "expected an operator"},
		{"@Request[x] StringLike 'a*'", "operator \"StringLike\" is not supported"},
		{"@Request[x] NumericEquals 5", "operator \"NumericEquals\" is not supported"},
		{"@Request[x] ForSomeValues:StringEquals 'a'", "unknown prefix \"ForSomeValues\""},
		{"@Request[x] GuidEquals {53ca6127-db72-4b80-b1b0}", "is not one"},
		{"@Request[x] GuidEquals 'Azure AI User'", "is not one"},
		{"@Request[x] StringEquals abc", "quote the value: 'abc'"},
		{"@Request[x] StringEquals {'a', 'b'}", "takes one value; to compare with several use ForAnyOfAnyValues:StringEquals"},
		{"@Request[x] ForAnyOfAnyValues:StringEquals {}", "expected a value, found \"}\""},
		{"@Request[x] ForAnyOfAnyValues:StringEquals {'a' 'b'}", "'}' to close the value list"},
		{"@Request[x] StringEquals", "expected a value, found end of condition"},
		{"ActionMatches{'a.b/c'} & ActionMatches{'a.b/d'}", "must be doubled"},
		{"ActionMatches{'a.b/c'}; ActionMatches{'a.b/d'}", "unexpected character ';'"},
		{"true", "expected '(', '!', ActionMatches"},
		{"!", "found end of condition"},
		{"()", "found \")\""},
		{strings.Repeat("(", 100) + "ActionMatches{'a.b/c'}" + strings.Repeat(")", 100), "deeper than 64"},
		{strings.Repeat("!", 100) + "ActionMatches{'a.b/c'}", "deeper than 64"},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.in)
		if err == nil {
			t.Errorf("ParseCondition(%q) = %s, want an error", tt.in, c)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCondition(%q) error %q, want it to say %q", tt.in, err, tt.want)
		}
	}
	// Nesting just inside the limit is fine.
	if _, err := ParseCondition(strings.Repeat("(", 63) + "ActionMatches{'a.b/c'}" + strings.Repeat(")", 63)); err != nil {
		t.Errorf("63 levels: %v", err)
	}
}

func TestEvaluateCondition(t *testing.T) {
	attrs := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	const rdAttr = AttrRoleAssignmentRoleDefinitionID
	write := func(m map[string][]string) Request { return Request{Action: raWrite, RequestAttrs: m} }
	del := func(req, res map[string][]string) Request {
		return Request{Action: raDelete, RequestAttrs: req, ResourceAttrs: res}
	}
	x := func(vals ...string) Request {
		return Request{Action: "a.b/c", RequestAttrs: map[string][]string{"x": vals}}
	}
	tests := []struct {
		name string
		cond string
		req  Request
		want bool
	}{
		// The delegation condition of Azure AI Project Manager.
		{"write AI User, bare GUID", refDelegationCondition, write(attrs(rdAttr, aiUserGUID)), true},
		{"write AI User, full id, upper case", refDelegationCondition, write(attrs(rdAttr, "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/"+strings.ToUpper(aiUserGUID))), true},
		{"write AI User, attribute name in other case", refDelegationCondition, write(attrs(strings.ToLower(rdAttr), aiUserGUID)), true},
		{"write Owner", refDelegationCondition, write(attrs(rdAttr, ownerGUID)), false},
		{"write Owner, action in other case", refDelegationCondition, Request{Action: strings.ToUpper(raWrite), RequestAttrs: attrs(rdAttr, ownerGUID)}, false},
		{"write, attribute missing", refDelegationCondition, write(nil), false},
		{"write, attribute empty", refDelegationCondition, write(map[string][]string{rdAttr: {}}), false},
		{"write, attribute not a GUID", refDelegationCondition, write(attrs(rdAttr, "Azure AI User")), false},
		{"write, a GUID followed by junk", refDelegationCondition, write(attrs(rdAttr, aiUserGUID+"x")), false},
		{"write, the GUID only in @Resource", refDelegationCondition, Request{Action: raWrite, ResourceAttrs: attrs(rdAttr, aiUserGUID)}, false},
		{"delete AI User", refDelegationCondition, del(nil, attrs(rdAttr, aiUserGUID)), true},
		{"delete Owner", refDelegationCondition, del(nil, attrs(rdAttr, ownerGUID)), false},
		{"delete, the GUID only in @Request", refDelegationCondition, del(attrs(rdAttr, aiUserGUID), nil), false},
		{"other action", refDelegationCondition, Request{Action: "Microsoft.CognitiveServices/accounts/projects/write"}, true},
		{"data action", refDelegationCondition, Request{Action: chatAction, Data: true}, true},

		// Cross products, Azure's documented examples.
		{"any of any: hit", "@Request[x] ForAnyOfAnyValues:StringEquals {'blue', 'green'}", x("red", "blue"), true},
		{"any of any: miss", "@Request[x] ForAnyOfAnyValues:StringEquals {'orange', 'green'}", x("red", "blue"), false},
		{"all of any: hit", "@Request[x] ForAllOfAnyValues:StringEquals {'orange', 'red', 'blue'}", x("red", "blue"), true},
		{"all of any: miss", "@Request[x] ForAllOfAnyValues:StringEquals {'red', 'green'}", x("red", "blue"), false},
		{"any of all: hit", "@Request[x] ForAnyOfAllValues:StringNotEquals {'a', 'b'}", x("a", "c"), true},
		{"any of all: miss", "@Request[x] ForAnyOfAllValues:StringNotEquals {'a', 'b'}", x("a", "b"), false},
		{"all of all: hit", "@Request[x] ForAllOfAllValues:StringNotEquals {'a', 'b'}", x("c", "d"), true},
		{"all of all: miss", "@Request[x] ForAllOfAllValues:StringNotEquals {'a', 'b'}", x("c", "a"), false},
		{"any of any not-equals is pairwise", "@Request[x] ForAnyOfAnyValues:StringNotEquals {'a', 'b'}", x("a"), true},
		{"all of any over no values is not vacuously true", "@Request[x] ForAllOfAnyValues:StringEquals {'a'}", x(), false},
		{"all of all over a missing attribute", "@Request[y] ForAllOfAllValues:StringNotEquals {'a'}", x("b"), false},

		// Single-valued operators.
		{"StringEquals is case-sensitive", "@Request[x] StringEquals 'Blue'", x("blue"), false},
		{"StringEquals", "@Request[x] StringEquals 'blue'", x("blue"), true},
		{"StringEqualsIgnoreCase", "@Request[x] StringEqualsIgnoreCase 'Blue'", x("bLUE"), true},
		{"StringNotEquals: different", "@Request[x] StringNotEquals 'a'", x("b"), true},
		{"StringNotEquals: same", "@Request[x] StringNotEquals 'a'", x("a"), false},
		{"StringNotEqualsIgnoreCase", "@Request[x] StringNotEqualsIgnoreCase 'A'", x("a"), false},
		{"StringStartsWith", "@Request[x] StringStartsWith 'Micro'", x("Microsoft"), true},
		{"StringStartsWith is case-sensitive", "@Request[x] StringStartsWith 'micro'", x("Microsoft"), false},
		{"StringStartsWithIgnoreCase", "@Request[x] StringStartsWithIgnoreCase 'micro'", x("Microsoft"), true},
		{"StringNotStartsWith", "@Request[x] StringNotStartsWith 'Micro'", x("Contoso"), true},
		{"StringNotStartsWithIgnoreCase", "@Request[x] StringNotStartsWithIgnoreCase 'CON'", x("Contoso"), false},
		{"GuidEquals", "@Request[x] GuidEquals " + ownerGUID, x(strings.ToUpper(ownerGUID)), true},
		{"GuidNotEquals: different", "@Request[x] GuidNotEquals " + aiUserGUID, x(ownerGUID), true},
		{"GuidNotEquals: same", "@Request[x] GuidNotEquals " + aiUserGUID, x(RoleDefinitionPrefix + aiUserGUID), false},
		{"GuidNotEquals: not a GUID", "@Request[x] GuidNotEquals " + aiUserGUID, x("garbage"), false},
		{"single-valued operator, several values", "@Request[x] StringEquals 'a'", x("a", "a"), false},

		// Missing attributes fail closed; negation is explicit.
		{"missing, positive", "@Request[y] StringEquals 'a'", x("a"), false},
		{"missing, negative operator", "@Request[y] StringNotEquals 'a'", x("a"), false},
		{"missing, negated positive", "!(@Request[y] StringEquals 'a')", x("a"), true},
		{"nil maps", "@Resource[x] StringEquals 'a'", Request{}, false},
		{"request and resource are separate", "@Resource[x] StringEquals 'a'", x("a"), false},

		// Logic.
		{"AND: both", "ActionMatches{'a.b/*'} AND @Request[x] StringEquals 'a'", x("a"), true},
		{"AND: one", "ActionMatches{'a.b/*'} AND @Request[x] StringEquals 'b'", x("a"), false},
		{"OR: one", "ActionMatches{'z.z/*'} OR @Request[x] StringEquals 'a'", x("a"), true},
		{"OR: none", "ActionMatches{'z.z/*'} OR @Request[x] StringEquals 'b'", x("a"), false},
		{"NOT", "NOT ActionMatches{'a.b/c'}", x(), false},
		{"double negation", "!!ActionMatches{'A.B/C'}", x(), true},
		{"ActionMatches list", "ActionMatches{'z.z/z', 'a.b/*'}", x(), true},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.cond)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := c.Evaluate(tt.req); got != tt.want {
			t.Errorf("%s: %s on %+v = %v, want %v", tt.name, tt.cond, tt.req, got, tt.want)
		}
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		refDelegationCondition,
		"(\n (\n  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})\n )\n OR\n (\n  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]\n  StringEquals 'blobs-example-container'\n )\n)",
		"@Request[x] ForAllOfAllValues:StringNotEquals {'a', 'b'} && NOT @Resource[y] GuidEquals 8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
		"a AND b OR c",
		"@Request[x] StringEquals {'a', 'b'}",
		"((((",
		"'",
		"@Request[",
	} {
		f.Add(s)
	}
	reqs := []Request{
		{},
		{Action: raWrite, RequestAttrs: map[string][]string{AttrRoleAssignmentRoleDefinitionID: {aiUserGUID}, "x": {"a", "b"}}},
		{Action: raDelete, ResourceAttrs: map[string][]string{AttrRoleAssignmentRoleDefinitionID: {ownerGUID}, "y": {RoleOwner}}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			if c != nil {
				t.Fatalf("ParseCondition(%q) returned a condition with error %v", s, err)
			}
			return
		}
		// The canonical rendering parses back to the same condition.
		text := c.String()
		again, err := ParseCondition(text)
		if err != nil {
			t.Fatalf("ParseCondition(%q) rendered %q, which does not parse: %v", s, text, err)
		}
		if again.String() != text {
			t.Fatalf("rendering is not stable: %q then %q", text, again.String())
		}
		for _, r := range reqs {
			if c.Evaluate(r) != again.Evaluate(r) {
				t.Fatalf("%q and its rendering %q disagree on %+v", s, text, r)
			}
		}
	})
}
