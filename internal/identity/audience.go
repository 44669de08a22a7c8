package identity

import "strings"

// Audiences of the tokens Perimeter issues: the resource URIs of the Azure
// services Perimeter stands in for. Each names one of Perimeter's APIs.
const (
	// AudienceManagement is the control plane (ARM).
	AudienceManagement = "https://management.azure.com"
	// AudienceCognitiveServices is the data plane (Azure OpenAI / AI
	// Services endpoints behind the gateway).
	AudienceCognitiveServices = "https://cognitiveservices.azure.com"
	// AudienceGraph is the directory API (Microsoft Graph shaped).
	AudienceGraph = "https://graph.microsoft.com"
)

// audienceForResource returns the token audience for the resource URI a
// client asked for. Resource URIs that Azure treats as the same service get
// that service's one audience, so a verifier names a single audience per
// API. Trailing slashes are ignored: the Azure CLI asks for
// "https://management.core.windows.net//.default".
func audienceForResource(resource string) (string, bool) {
	switch normalizeAudience(resource) {
	case "https://management.azure.com", "https://management.core.windows.net":
		return AudienceManagement, true
	case "https://cognitiveservices.azure.com", "https://ai.azure.com":
		return AudienceCognitiveServices, true
	case "https://graph.microsoft.com":
		return AudienceGraph, true
	}
	return "", false
}

// normalizeAudience makes audiences comparable: case-insensitive scheme and
// host, and "https://management.azure.com/" equal to
// "https://management.azure.com".
func normalizeAudience(aud string) string {
	return strings.ToLower(strings.TrimRight(aud, "/"))
}

// sameAudience reports whether two audience strings name the same API.
func sameAudience(a, b string) bool {
	return a != "" && normalizeAudience(a) == normalizeAudience(b)
}
