package authz

import "strings"

// Condition is a compiled ABAC condition (conditionVersion 2.0). It is
// immutable and safe for concurrent use.
//
// The grammar is the part of Azure's that delegating roles and similar
// custom roles use:
//
//	expr       = unary { ("AND" | "&&") unary } | unary { ("OR" | "||") unary }
//	unary      = ("!" | "NOT") unary | "(" expr ")" | actions | comparison
//	actions    = "ActionMatches" "{" 'pattern' { "," 'pattern' } "}"
//	comparison = ("@Request" | "@Resource") "[" attribute "]" operator values
//	operator   = [ ("ForAnyOfAnyValues" | "ForAllOfAnyValues" | "ForAnyOfAllValues" | "ForAllOfAllValues") ":" ] name
//	values     = value | "{" value { "," value } "}"
//	value      = 'quoted string' | bare-guid
//
// Keywords and operator names are case-insensitive; whitespace (newlines
// included) may separate any two tokens. As in Azure, AND and OR do not
// mix without parentheses: "a AND b OR c" is an error, not a precedence
// puzzle. Operator names are GuidEquals, GuidNotEquals, StringEquals,
// StringEqualsIgnoreCase, StringNotEquals, StringNotEqualsIgnoreCase,
// StringStartsWith, StringStartsWithIgnoreCase, StringNotStartsWith and
// StringNotStartsWithIgnoreCase. Guid operators take GUIDs; string
// operators take quoted strings. Without a For… prefix an operator takes
// one value.
type Condition struct {
	root *node
}

// maxDepth bounds nesting (parentheses and negations), so that no input
// can exhaust the stack. Azure's own conditions nest four deep.
const maxDepth = 64

type nodeKind uint8

const (
	nodeAnd nodeKind = iota
	nodeOr
	nodeNot
	nodeActionMatches
	nodeCompare
)

type node struct {
	kind     nodeKind
	kids     []*node   // nodeAnd, nodeOr: two or more; nodeNot: one
	patterns []pattern // nodeActionMatches: any may match
	cmp      comparison
}

type source uint8

const (
	sourceRequest source = iota
	sourceResource
)

// quantifier is how a multi-valued attribute meets a list of values.
type quantifier uint8

const (
	quantNone     quantifier = iota // single attribute value, single value
	quantAnyOfAny                   // some attribute value OP some value
	quantAllOfAny                   // every attribute value OP some value
	quantAnyOfAll                   // some attribute value OP every value
	quantAllOfAll                   // every attribute value OP every value
	numQuantifiers
)

// String is the quantifier's prefix, without the colon.
func (q quantifier) String() string {
	switch q {
	case quantAnyOfAny:
		return "ForAnyOfAnyValues"
	case quantAllOfAny:
		return "ForAllOfAnyValues"
	case quantAnyOfAll:
		return "ForAnyOfAllValues"
	case quantAllOfAll:
		return "ForAllOfAllValues"
	}
	return ""
}

type operator uint8

const (
	opGuidEquals operator = iota
	opGuidNotEquals
	opStringEquals
	opStringEqualsIgnoreCase
	opStringNotEquals
	opStringNotEqualsIgnoreCase
	opStringStartsWith
	opStringStartsWithIgnoreCase
	opStringNotStartsWith
	opStringNotStartsWithIgnoreCase
	numOperators
)

func (o operator) String() string {
	switch o {
	case opGuidEquals:
		return "GuidEquals"
	case opGuidNotEquals:
		return "GuidNotEquals"
	case opStringEquals:
		return "StringEquals"
	case opStringEqualsIgnoreCase:
		return "StringEqualsIgnoreCase"
	case opStringNotEquals:
		return "StringNotEquals"
	case opStringNotEqualsIgnoreCase:
		return "StringNotEqualsIgnoreCase"
	case opStringStartsWith:
		return "StringStartsWith"
	case opStringStartsWithIgnoreCase:
		return "StringStartsWithIgnoreCase"
	case opStringNotStartsWith:
		return "StringNotStartsWith"
	case opStringNotStartsWithIgnoreCase:
		return "StringNotStartsWithIgnoreCase"
	}
	return ""
}

func (o operator) guid() bool { return o == opGuidEquals || o == opGuidNotEquals }

type comparison struct {
	source source
	attr   string
	quant  quantifier
	op     operator
	// values are GUIDs in lower case for Guid operators, the strings as
	// written otherwise.
	values []string
}

// Evaluate reports whether the condition holds for r.
func (c *Condition) Evaluate(r Request) bool {
	return c.root.eval(&r)
}

// String renders the condition canonically: every AND and OR group in
// parentheses, names in their documented spelling, GUIDs lower case. The
// rendering parses back to the same condition.
func (c *Condition) String() string {
	var b strings.Builder
	c.root.render(&b)
	return b.String()
}

func (n *node) eval(r *Request) bool {
	switch n.kind {
	case nodeAnd:
		for _, k := range n.kids {
			if !k.eval(r) {
				return false
			}
		}
		return true
	case nodeOr:
		for _, k := range n.kids {
			if k.eval(r) {
				return true
			}
		}
		return false
	case nodeNot:
		return !n.kids[0].eval(r)
	case nodeActionMatches:
		return matchAny(n.patterns, r.Action)
	case nodeCompare:
		return n.cmp.eval(r)
	}
	return false
}

// eval applies the comparison. An attribute the request does not carry
// (or carries with no values) makes every comparison false, negative
// operators included: a condition can only be met by facts the caller
// supplied. Without a For… prefix the attribute must have exactly one
// value.
func (c *comparison) eval(r *Request) bool {
	attrs := r.RequestAttrs
	if c.source == sourceResource {
		attrs = r.ResourceAttrs
	}
	have := lookupAttr(attrs, c.attr)
	if len(have) == 0 {
		return false
	}
	switch c.quant {
	case quantNone:
		return len(have) == 1 && c.op.test(have[0], c.values[0])
	case quantAnyOfAny:
		for _, a := range have {
			if c.anyValue(a) {
				return true
			}
		}
		return false
	case quantAllOfAny:
		for _, a := range have {
			if !c.anyValue(a) {
				return false
			}
		}
		return true
	case quantAnyOfAll:
		for _, a := range have {
			if c.allValues(a) {
				return true
			}
		}
		return false
	case quantAllOfAll:
		for _, a := range have {
			if !c.allValues(a) {
				return false
			}
		}
		return true
	}
	return false
}

func (c *comparison) anyValue(a string) bool {
	for _, v := range c.values {
		if c.op.test(a, v) {
			return true
		}
	}
	return false
}

func (c *comparison) allValues(a string) bool {
	for _, v := range c.values {
		if !c.op.test(a, v) {
			return false
		}
	}
	return true
}

// test compares one attribute value a with one condition value v. For the
// Guid operators a may be a bare GUID or an id ending in one (a full role
// definition id); a value that is neither satisfies neither operator.
func (o operator) test(a, v string) bool {
	switch o {
	case opGuidEquals, opGuidNotEquals:
		g := a[strings.LastIndexByte(a, '/')+1:]
		if !isGUID(g) {
			return false
		}
		return equalLower(g, v) == (o == opGuidEquals)
	case opStringEquals:
		return a == v
	case opStringNotEquals:
		return a != v
	case opStringEqualsIgnoreCase:
		return strings.EqualFold(a, v)
	case opStringNotEqualsIgnoreCase:
		return !strings.EqualFold(a, v)
	case opStringStartsWith:
		return strings.HasPrefix(a, v)
	case opStringNotStartsWith:
		return !strings.HasPrefix(a, v)
	case opStringStartsWithIgnoreCase:
		return hasPrefixFold(a, v)
	case opStringNotStartsWithIgnoreCase:
		return !hasPrefixFold(a, v)
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// lookupAttr finds attribute name in attrs, ignoring case.
func lookupAttr(attrs map[string][]string, name string) []string {
	if v, ok := attrs[name]; ok {
		return v
	}
	for k, v := range attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func (n *node) render(b *strings.Builder) {
	switch n.kind {
	case nodeAnd, nodeOr:
		sep := " AND "
		if n.kind == nodeOr {
			sep = " OR "
		}
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.render(b)
		}
		b.WriteByte(')')
	case nodeNot:
		b.WriteByte('!')
		n.kids[0].render(b)
	case nodeActionMatches:
		b.WriteString("ActionMatches{")
		for i, p := range n.patterns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("'" + p.text + "'")
		}
		b.WriteByte('}')
	case nodeCompare:
		c := &n.cmp
		if c.source == sourceRequest {
			b.WriteString("@Request[")
		} else {
			b.WriteString("@Resource[")
		}
		b.WriteString(c.attr + "] ")
		if c.quant != quantNone {
			b.WriteString(c.quant.String() + ":")
		}
		b.WriteString(c.op.String() + " {")
		for i, v := range c.values {
			if i > 0 {
				b.WriteString(", ")
			}
			if c.op.guid() {
				b.WriteString(v)
			} else {
				b.WriteString("'" + v + "'")
			}
		}
		b.WriteByte('}')
	}
}
