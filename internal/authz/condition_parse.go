package authz

import (
	"fmt"
	"strings"
)

// ParseCondition compiles an ABAC condition. It returns an error naming
// the offset and what to change for anything outside the grammar Condition
// documents, including the parts of Azure's it does not support
// (@Principal, @Environment, SubOperationMatches, Like, numeric and date
// operators): a condition that cannot be understood must not be guessed at.
func ParseCondition(s string) (*Condition, error) {
	p := parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, fmt.Errorf("condition is empty")
	}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s after the end of the condition; join conditions with AND or OR", p.tok)
	}
	return &Condition{root: root}, nil
}

// The parser is recursive descent over a hand-written lexer.

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokLParen
	tokRParen
	tokLBrace
	tokRBrace
	tokComma
	tokNot
	tokAnd
	tokOr
	tokWord   // a name, operator or bare value
	tokString // a 'quoted string'; text is the content
	tokAttr   // @Source[attribute]; text is the attribute, src the source
)

type token struct {
	kind tokKind
	text string
	src  source
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of condition"
	case tokString:
		return fmt.Sprintf("'%s'", t.text)
	case tokAttr:
		return "attribute " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-'
}

func (l *lexer) errorf(pos int, format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", pos, fmt.Sprintf(format, args...))
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if l.pos == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	single := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, text: string(c), pos: start}, nil
	}
	switch c {
	case '(':
		return single(tokLParen)
	case ')':
		return single(tokRParen)
	case '{':
		return single(tokLBrace)
	case '}':
		return single(tokRBrace)
	case ',':
		return single(tokComma)
	case '!':
		return single(tokNot)
	case '&', '|':
		if l.pos+1 < len(l.src) && l.src[l.pos+1] == c {
			l.pos += 2
			k := tokAnd
			if c == '|' {
				k = tokOr
			}
			return token{kind: k, text: l.src[start:l.pos], pos: start}, nil
		}
		return token{}, l.errorf(start, "%q must be doubled (%c%c), or write AND / OR", c, c, c)
	case '\'':
		end := strings.IndexByte(l.src[l.pos+1:], '\'')
		if end < 0 {
			return token{}, l.errorf(start, "string is not closed: add a ' at its end")
		}
		l.pos += end + 2
		return token{kind: tokString, text: l.src[start+1 : l.pos-1], pos: start}, nil
	case '@':
		return l.attribute()
	}
	if isWordByte(c) {
		for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
			l.pos++
		}
		w := l.src[start:l.pos]
		switch {
		case strings.EqualFold(w, "AND"):
			return token{kind: tokAnd, text: w, pos: start}, nil
		case strings.EqualFold(w, "OR"):
			return token{kind: tokOr, text: w, pos: start}, nil
		case strings.EqualFold(w, "NOT"):
			return token{kind: tokNot, text: w, pos: start}, nil
		}
		return token{kind: tokWord, text: w, pos: start}, nil
	}
	return token{}, l.errorf(start, "unexpected character %q", rune(c))
}

// attribute lexes @Source[name].
func (l *lexer) attribute() (token, error) {
	start := l.pos
	l.pos++
	for l.pos < len(l.src) && isWordByte(l.src[l.pos]) && l.src[l.pos] != ':' {
		l.pos++
	}
	name := l.src[start+1 : l.pos]
	var src source
	switch {
	case strings.EqualFold(name, "Request"):
		src = sourceRequest
	case strings.EqualFold(name, "Resource"):
		src = sourceResource
	case strings.EqualFold(name, "Principal"), strings.EqualFold(name, "Environment"):
		return token{}, l.errorf(start, "@%s attributes are not supported; use @Request[...] or @Resource[...]", name)
	default:
		return token{}, l.errorf(start, "unknown attribute source @%s; use @Request[...] or @Resource[...]", name)
	}
	if l.pos == len(l.src) || l.src[l.pos] != '[' {
		return token{}, l.errorf(l.pos, "expected '[' after @%s, as in @%s[Microsoft.Authorization/roleAssignments:RoleDefinitionId]", name, name)
	}
	end := strings.IndexByte(l.src[l.pos:], ']')
	if end < 0 {
		return token{}, l.errorf(l.pos, "attribute name is not closed: add a ']'")
	}
	attr := strings.TrimSpace(l.src[l.pos+1 : l.pos+end])
	if attr == "" {
		return token{}, l.errorf(l.pos, "attribute name is empty")
	}
	for i := 0; i < len(attr); i++ {
		if c := attr[i]; c <= ' ' || c == '[' || c == 0x7f {
			return token{}, l.errorf(l.pos+1, "attribute name %q contains %q; remove it", attr, rune(c))
		}
	}
	l.pos += end + 1
	return token{kind: tokAttr, text: attr, src: src, pos: start}, nil
}

type parser struct {
	lex lexer
	tok token
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(format string, args ...any) error {
	return p.lex.errorf(p.tok.pos, format, args...)
}

func (p *parser) expect(k tokKind, what string) error {
	if p.tok.kind != k {
		return p.errorf("expected %s, found %s", what, p.tok)
	}
	return p.advance()
}

func (p *parser) expr(depth int) (*node, error) {
	first, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokAnd && p.tok.kind != tokOr {
		return first, nil
	}
	op := p.tok.kind
	n := &node{kind: nodeAnd, kids: []*node{first}}
	if op == tokOr {
		n.kind = nodeOr
	}
	for p.tok.kind == tokAnd || p.tok.kind == tokOr {
		if p.tok.kind != op {
			return nil, p.errorf("AND and OR cannot be mixed without parentheses; write (a AND b) OR c or a AND (b OR c)")
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		k, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, k)
	}
	return n, nil
}

func (p *parser) unary(depth int) (*node, error) {
	if depth >= maxDepth {
		return nil, p.errorf("condition nests deeper than %d levels", maxDepth)
	}
	switch p.tok.kind {
	case tokNot:
		if err := p.advance(); err != nil {
			return nil, err
		}
		k, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, kids: []*node{k}}, nil
	case tokLParen:
		open := p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("expected ')' to close the '(' at offset %d, found %s", open, p.tok)
		}
		return n, p.advance()
	case tokAttr:
		return p.comparison()
	case tokWord:
		switch {
		case strings.EqualFold(p.tok.text, "ActionMatches"):
			return p.actionMatches()
		case strings.EqualFold(p.tok.text, "SubOperationMatches"):
			return nil, p.errorf("SubOperationMatches is not supported")
		}
	}
	return nil, p.errorf("expected '(', '!', ActionMatches{...} or an @Request[...] / @Resource[...] comparison, found %s", p.tok)
}

func (p *parser) actionMatches() (*node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tokLBrace, "'{' after ActionMatches"); err != nil {
		return nil, err
	}
	n := &node{kind: nodeActionMatches}
	for {
		if p.tok.kind != tokString {
			return nil, p.errorf("expected a quoted action pattern such as 'Microsoft.Authorization/roleAssignments/write', found %s", p.tok)
		}
		if err := ValidateAction(p.tok.text); err != nil {
			return nil, p.errorf("%s", err.(*ValidationError).Message)
		}
		n.patterns = append(n.patterns, compilePattern(p.tok.text))
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokComma {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return n, p.expect(tokRBrace, "'}' to close ActionMatches{")
}

func (p *parser) comparison() (*node, error) {
	n := &node{kind: nodeCompare, cmp: comparison{source: p.tok.src, attr: p.tok.text}}
	c := &n.cmp
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokWord {
		return nil, p.errorf("expected an operator such as ForAnyOfAnyValues:GuidEquals after the attribute, found %s", p.tok)
	}
	opPos := p.tok.pos
	if err := c.setOperator(p.tok.text); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokLBrace {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for {
			if err := p.value(c); err != nil {
				return nil, err
			}
			if p.tok.kind != tokComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if err := p.expect(tokRBrace, "'}' to close the value list"); err != nil {
			return nil, err
		}
	} else if err := p.value(c); err != nil {
		return nil, err
	}
	if c.quant == quantNone && len(c.values) > 1 {
		return nil, p.lex.errorf(opPos, "%s takes one value; to compare with several use ForAnyOfAnyValues:%s", c.op, c.op)
	}
	return n, nil
}

func (c *comparison) setOperator(w string) error {
	name := w
	if i := strings.IndexByte(w, ':'); i >= 0 {
		q := w[:i]
		name = w[i+1:]
		for k := quantAnyOfAny; k < numQuantifiers; k++ {
			if strings.EqualFold(k.String(), q) {
				c.quant = k
			}
		}
		if c.quant == quantNone {
			return fmt.Errorf("unknown prefix %q in %q; use ForAnyOfAnyValues, ForAllOfAnyValues, ForAnyOfAllValues or ForAllOfAllValues", q, w)
		}
	}
	names := make([]string, 0, numOperators)
	for k := operator(0); k < numOperators; k++ {
		if strings.EqualFold(k.String(), name) {
			c.op = k
			return nil
		}
		names = append(names, k.String())
	}
	return fmt.Errorf("operator %q is not supported; use one of %s", name, strings.Join(names, ", "))
}

// value reads one value of c: a GUID for Guid operators, a quoted string
// otherwise.
func (p *parser) value(c *comparison) error {
	var v string
	switch p.tok.kind {
	case tokString, tokWord:
		v = p.tok.text
	default:
		return p.errorf("expected a value, found %s", p.tok)
	}
	if c.op.guid() {
		if !isGUID(v) {
			return p.errorf("%s compares GUIDs; %s is not one (write it as 00000000-0000-0000-0000-000000000000)", c.op, p.tok)
		}
		v = lowerASCII(v)
	} else if p.tok.kind != tokString {
		return p.errorf("%s compares strings; quote the value: '%s'", c.op, v)
	}
	c.values = append(c.values, v)
	return p.advance()
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
