package authz

import (
	"slices"
	"strings"
)

// Policy is a compiled set of role definitions, role assignments and group
// memberships. It is immutable once Compile returns, so any number of
// goroutines may use it; a new configuration is a new Policy, swapped in
// whole.
type Policy struct {
	subjects map[string]*subject
}

// subject is what one principal may draw on.
type subject struct {
	// groups are the principal's transitive groups, sorted.
	groups []string
	// sets are the grants of the principal itself (first, when it has
	// any) and of each of its groups that has any, in group order.
	sets []*grantSet
}

// grantSet holds the assignments of one principal (user, group or service
// principal).
type grantSet struct {
	grants []grant
	// byScope indexes grants by lower-cased scope, when there are enough of
	// them that walking the request scope's ancestors beats a scan.
	byScope map[string][]int32
}

// indexThreshold is the number of grants above which a set is indexed by
// scope. Below it a scan is faster: most scope comparisons fail on length
// or on the last few bytes.
const indexThreshold = 8

// maxIndexedScope is the longest request scope looked up through byScope
// (it is lower-cased into a stack buffer); longer scopes are scanned.
const maxIndexedScope = 512

type grant struct {
	assignmentID string
	scope        string // trimmed, lower case
	role         *role
	cond         *Condition
	// broken marks a condition that did not parse (or an unknown condition
	// version): the grant never applies.
	broken bool
}

type role struct {
	guid   string
	name   string
	blocks []block
	// restricted roles (custom ones) grant only through assignments at
	// or beneath one of their assignable scopes (trimmed, lower case).
	restricted bool
	assignable []string
}

// assignableAt reports whether an assignment at ls (trimmed, lower case)
// may use r.
func (r *role) assignableAt(ls string) bool {
	if !r.restricted {
		return true
	}
	for _, s := range r.assignable {
		if coversLower(s, ls) {
			return true
		}
	}
	return false
}

// mayGrant reports whether some block of r that can ever apply has
// action among its actions and not among its notActions.
func (r *role) mayGrant(action string) bool {
	for i := range r.blocks {
		b := &r.blocks[i]
		if !b.broken && matchAny(b.actions, action) && !matchAny(b.notActions, action) {
			return true
		}
	}
	return false
}

type block struct {
	actions, notActions, dataActions, notDataActions []pattern
	cond                                             *Condition
	broken                                           bool
}

// Compile builds a Policy.
//
// roles are the definitions assignments may name, looked up by GUID (the
// first of several with one GUID wins, so pass built-ins first and a custom
// role cannot shadow them); an assignment naming an unknown role grants
// nothing, and neither does an assignment of a custom role (RoleType
// RoleTypeCustom, or any role listing assignable scopes) at a scope none
// of its assignable scopes covers, which Azure would have refused.
// memberOf maps a principal's object id to the groups it is a direct
// member of; membership is transitive through nested groups, and cycles
// are harmless. Object ids and scopes compare case-insensitively.
//
// Compile never fails: a condition that does not parse, or has a version
// other than "2.0", makes the block or assignment carrying it grant
// nothing, and ValidateRoleDefinition / ValidateCondition are where such
// input is refused.
func Compile(roles []RoleDefinition, assignments []Assignment, memberOf map[string][]string) *Policy {
	byGUID := make(map[string]*role, len(roles))
	for i := range roles {
		guid := RoleGUID(roles[i].Name)
		if guid == "" {
			guid = RoleGUID(roles[i].ID)
		}
		if _, dup := byGUID[guid]; dup || guid == "" {
			continue
		}
		byGUID[guid] = compileRole(guid, &roles[i])
	}

	sets := make(map[string]*grantSet)
	for _, a := range assignments {
		r := byGUID[RoleGUID(a.RoleDefinitionID)]
		principal := lowerASCII(strings.TrimSpace(a.PrincipalID))
		if r == nil || principal == "" || !strings.HasPrefix(a.Scope, "/") {
			continue
		}
		g := grant{assignmentID: a.ID, scope: lowerASCII(trimScope(a.Scope)), role: r}
		if !r.assignableAt(g.scope) {
			continue
		}
		g.cond, g.broken = compileCondition(a.Condition, a.ConditionVersion)
		s := sets[principal]
		if s == nil {
			s = &grantSet{}
			sets[principal] = s
		}
		s.grants = append(s.grants, g)
	}
	for _, s := range sets {
		if len(s.grants) > indexThreshold {
			s.byScope = make(map[string][]int32)
			for i, g := range s.grants {
				s.byScope[g.scope] = append(s.byScope[g.scope], int32(i))
			}
		}
	}

	direct := make(map[string][]string, len(memberOf))
	for m, gs := range memberOf {
		m = lowerASCII(strings.TrimSpace(m))
		for _, g := range gs {
			if g = lowerASCII(strings.TrimSpace(g)); g != "" {
				direct[m] = append(direct[m], g)
			}
		}
	}

	p := &Policy{subjects: make(map[string]*subject, len(direct)+len(sets))}
	add := func(id string) {
		if id == "" || p.subjects[id] != nil {
			return
		}
		sub := &subject{groups: closure(direct, id)}
		if s := sets[id]; s != nil {
			sub.sets = append(sub.sets, s)
		}
		for _, g := range sub.groups {
			if s := sets[g]; s != nil {
				sub.sets = append(sub.sets, s)
			}
		}
		p.subjects[id] = sub
	}
	for id := range direct {
		add(id)
	}
	for id := range sets {
		add(id)
	}
	return p
}

// closure returns the groups id belongs to, directly or through other
// groups, sorted, id itself excluded even when a cycle leads back to it.
func closure(direct map[string][]string, id string) []string {
	seen := map[string]bool{id: true}
	var out []string
	queue := slices.Clone(direct[id])
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] {
			continue
		}
		seen[g] = true
		out = append(out, g)
		queue = append(queue, direct[g]...)
	}
	slices.Sort(out)
	return out
}

func compileRole(guid string, def *RoleDefinition) *role {
	r := &role{guid: guid, name: def.RoleName, restricted: def.RoleType == RoleTypeCustom || len(def.AssignableScopes) > 0}
	for _, s := range def.AssignableScopes {
		if strings.HasPrefix(s, "/") {
			r.assignable = append(r.assignable, lowerASCII(trimScope(s)))
		}
	}
	for _, p := range def.Permissions {
		b := block{
			actions:        compilePatterns(p.Actions),
			notActions:     compilePatterns(p.NotActions),
			dataActions:    compilePatterns(p.DataActions),
			notDataActions: compilePatterns(p.NotDataActions),
		}
		b.cond, b.broken = compileCondition(p.Condition, p.ConditionVersion)
		r.blocks = append(r.blocks, b)
	}
	return r
}

// compileCondition parses a condition for Compile: no condition is
// (nil, false); one that cannot be used is (nil, true).
func compileCondition(s, version string) (*Condition, bool) {
	if s == "" {
		return nil, false
	}
	if version != "" && version != "2.0" {
		return nil, true
	}
	c, err := ParseCondition(s)
	if err != nil {
		return nil, true
	}
	return c, false
}

// outcome of one grant for one request, ordered: a later outcome is a
// better explanation of a refusal.
type outcome uint8

const (
	outScopeMissed outcome = iota
	outNotGranted
	outConditionFalse
	outGranted
)

// decide says whether g grants r, g's scope covering r's.
func (g *grant) decide(r *Request) outcome {
	out := outNotGranted
	for i := range g.role.blocks {
		b := &g.role.blocks[i]
		allow, deny := b.actions, b.notActions
		if r.Data {
			allow, deny = b.dataActions, b.notDataActions
		}
		if !matchAny(allow, r.Action) || matchAny(deny, r.Action) {
			continue
		}
		if b.broken || (b.cond != nil && !b.cond.root.eval(r)) {
			out = outConditionFalse
			continue
		}
		if g.broken || (g.cond != nil && !g.cond.root.eval(r)) {
			return outConditionFalse
		}
		return outGranted
	}
	return out
}

func (p *Policy) subject(principalID string) *subject {
	if p == nil {
		return nil
	}
	if sub, ok := p.subjects[principalID]; ok {
		return sub
	}
	var buf [64]byte
	if len(principalID) <= len(buf) {
		b := buf[:len(principalID)]
		for i := range b {
			b[i] = lowerByte(principalID[i])
		}
		return p.subjects[string(b)]
	}
	return p.subjects[lowerASCII(principalID)]
}

// Check decides whether r.PrincipalID may perform r.Action at r.Scope:
// whether some assignment of the principal, or of one of its transitive
// groups, at r.Scope or above it, has a role with a permissions block
// whose actions (dataActions when r.Data) match r.Action and whose
// notActions (notDataActions) do not, and whose condition, and the
// assignment's, hold for r. A nil Policy refuses everything.
func (p *Policy) Check(r Request) Decision {
	sub := p.subject(r.PrincipalID)
	if sub == nil {
		return refuse(CodeNoAssignment)
	}
	r.Scope = trimScope(r.Scope)
	best := outScopeMissed
	for _, s := range sub.sets {
		if s.byScope != nil && len(r.Scope) <= maxIndexedScope {
			if g, out := s.walk(&r); out == outGranted {
				return granted(g)
			} else if out > best {
				best = out
			}
			continue
		}
		for i := range s.grants {
			g := &s.grants[i]
			if !coversLower(g.scope, r.Scope) {
				continue
			}
			out := g.decide(&r)
			if out == outGranted {
				return granted(g)
			}
			if out > best {
				best = out
			}
		}
	}
	switch best {
	case outConditionFalse:
		return refuse(CodeConditionNotMet)
	case outNotGranted:
		return refuse(CodeActionNotGranted)
	}
	return refuse(CodeNoAssignment)
}

// walk looks up the grants at r.Scope and at each of its ancestors, root
// first. r.Scope is trimmed and at most maxIndexedScope long.
func (s *grantSet) walk(r *Request) (*grant, outcome) {
	var buf [maxIndexedScope]byte
	ls := buf[:len(r.Scope)]
	for i := range ls {
		ls[i] = lowerByte(r.Scope[i])
	}
	best := outScopeMissed
	try := func(idx []int32) *grant {
		for _, i := range idx {
			g := &s.grants[i]
			out := g.decide(r)
			if out == outGranted {
				return g
			}
			if out > best {
				best = out
			}
		}
		return nil
	}
	if g := try(s.byScope["/"]); g != nil {
		return g, outGranted
	}
	if len(ls) == 1 && ls[0] == '/' {
		return nil, best
	}
	for i := 1; i <= len(ls); i++ {
		if i < len(ls) && ls[i] != '/' {
			continue
		}
		if g := try(s.byScope[string(ls[:i])]); g != nil {
			return g, outGranted
		}
	}
	return nil, best
}

func granted(g *grant) Decision {
	return Decision{
		Allowed:          true,
		AssignmentID:     g.assignmentID,
		RoleName:         g.role.name,
		RoleDefinitionID: g.role.guid,
		Code:             CodeAllowed,
		Reason:           reason(CodeAllowed),
	}
}

// HasAccessWithin reports whether the principal, directly or through its
// groups, holds any assignment (of a known role, whatever it grants) at
// scope, above it or beneath it. List endpoints use it to choose between
// refusing a list and filtering it item by item.
func (p *Policy) HasAccessWithin(principalID, scope string) bool {
	return p.anyGrant(principalID, scope, func(g *grant, t, lt string) bool {
		return coversLower(g.scope, t) || coversLower(lt, g.scope)
	})
}

// MayEver reports whether some assignment of the principal, directly or
// through its groups, at scope or above it (or, with within, anywhere
// beneath scope too) has a role with a permissions block whose actions
// match action and whose notActions do not, whatever the conditions of the
// block or the assignment would decide. A grant whose condition cannot be
// parsed never counts. The control plane asks it before it reads a body a
// condition would need, so a caller who could never be allowed learns
// nothing from validation.
func (p *Policy) MayEver(principalID, scope, action string, within bool) bool {
	return p.anyGrant(principalID, scope, func(g *grant, t, lt string) bool {
		return !g.broken && (coversLower(g.scope, t) || (within && coversLower(lt, g.scope))) && g.role.mayGrant(action)
	})
}

// HasAccessBelow reports whether the principal, directly or through its
// groups, holds any assignment strictly beneath scope. A list the caller
// may not read as a whole is then filtered item by item (Reader on one
// resource group sees that group in the subscription's list) instead of
// refused.
func (p *Policy) HasAccessBelow(principalID, scope string) bool {
	return p.anyGrant(principalID, scope, func(g *grant, _, lt string) bool {
		return g.scope != lt && coversLower(lt, g.scope)
	})
}

// anyGrant reports whether match holds for some grant of the principal or
// of its groups; match gets scope trimmed (t) and also lower-cased (lt).
func (p *Policy) anyGrant(principalID, scope string, match func(g *grant, t, lt string) bool) bool {
	sub := p.subject(principalID)
	if sub == nil {
		return false
	}
	t := trimScope(scope)
	lt := lowerASCII(t)
	for _, s := range sub.sets {
		for i := range s.grants {
			if match(&s.grants[i], t, lt) {
				return true
			}
		}
	}
	return false
}

// Groups returns the groups the principal belongs to, directly or through
// other groups, sorted and lower case. The slice is the caller's.
func (p *Policy) Groups(principalID string) []string {
	sub := p.subject(principalID)
	if sub == nil {
		return nil
	}
	return slices.Clone(sub.groups)
}
