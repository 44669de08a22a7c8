package identity

import "github.com/google/uuid"

// canonicalGUID returns s in the lower-case 8-4-4-4-12 form, or false when
// s is not a GUID in that form. Tenant and application ids are GUIDs, and
// they become segments of store ids and URLs, so anything else (slashes,
// braces, "urn:uuid:" prefixes) is refused rather than normalised.
func canonicalGUID(s string) (string, bool) {
	if len(s) != 36 { // uuid.Parse also takes the braced and urn forms
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

func newGUID() string { return uuid.NewString() }
