package authz

import "strings"

// Built-in role GUIDs.
const (
	RoleOwner                                      = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	RoleContributor                                = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	RoleReader                                     = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	RoleNetworkContributor                         = "4d97b98b-1d4f-4787-a291-c67834d212e7"
	RolePrivateDNSZoneContributor                  = "b12aa53e-6015-4669-85d0-8515ebb3ae7f"
	RoleCognitiveServicesContributor               = "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68"
	RoleCognitiveServicesUser                      = "a97b65f3-24c7-4388-baec-2e87135dc908"
	RoleCognitiveServicesOpenAIUser                = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
	RoleAzureAIUser                                = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
	RoleAzureAIProjectManager                      = "eadc314b-1a2d-4efa-be10-5d325db5065e"
	RoleAzureAIAccountOwner                        = "e47c6f54-e4a2-4754-9501-8e0985b135e1"
	RoleAzureAIEnterpriseNetworkConnectionApprover = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
	RoleAzureAIDeveloper                           = "64702f94-c441-49e6-a78b-ef80e0188fee"
	RoleAzureAIInferenceDeploymentOperator         = "3afb7f49-54cb-416e-8c09-6dc049efa503"
)

// RoleDefinitionPrefix starts the id of every built-in role definition.
const RoleDefinitionPrefix = "/providers/Microsoft.Authorization/roleDefinitions/"

// Attribute names the role assignment conditions read.
const (
	AttrRoleAssignmentRoleDefinitionID = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
	AttrRoleAssignmentPrincipalID      = "Microsoft.Authorization/roleAssignments:PrincipalId"
	AttrRoleAssignmentPrincipalType    = "Microsoft.Authorization/roleAssignments:PrincipalType"
)

// delegateAzureAIUser is the condition of Azure AI Project Manager and
// Azure AI Account Owner: role assignments they write or delete must be of
// Azure AI User. It is Azure's string, byte for byte.
const delegateAzureAIUser = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d}))"

// RoleGUID returns the GUID of a role definition id, lower-cased: the part
// after the last "/" (so a bare GUID is returned as is).
func RoleGUID(roleDefinitionID string) string {
	return lowerASCII(roleDefinitionID[strings.LastIndexByte(roleDefinitionID, '/')+1:])
}

// BuiltInRole returns the built-in role with the given GUID (any casing).
func BuiltInRole(guid string) (RoleDefinition, bool) {
	guid = lowerASCII(guid)
	for _, r := range BuiltInRoles() {
		if r.Name == guid {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// BuiltInRoles returns the built-in roles, freshly built on every call so
// callers may keep and change them. Permissions are Azure's as the
// reference records them; empty lists are empty, not nil, so they render
// as [] in JSON.
func BuiltInRoles() []RoleDefinition {
	return []RoleDefinition{
		builtIn(RoleOwner, "Owner",
			"Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			Permission{Actions: list("*")}),
		builtIn(RoleContributor, "Contributor",
			"Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
			Permission{
				Actions: list("*"),
				NotActions: list(
					"Microsoft.Authorization/*/Delete",
					"Microsoft.Authorization/*/Write",
					"Microsoft.Authorization/elevateAccess/Action",
					"Microsoft.Blueprint/blueprintAssignments/write",
					"Microsoft.Blueprint/blueprintAssignments/delete",
					"Microsoft.Compute/galleries/share/action",
				),
			}),
		builtIn(RoleReader, "Reader",
			"View all resources, but does not allow you to make any changes.",
			Permission{Actions: list("*/read")}),
		builtIn(RoleNetworkContributor, "Network Contributor",
			"Lets you manage networks, but not access to them.",
			Permission{Actions: list(
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Network/*",
				"Microsoft.ResourceHealth/availabilityStatuses/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Support/*",
			)}),
		builtIn(RolePrivateDNSZoneContributor, "Private DNS Zone Contributor",
			"Lets you manage private DNS zone resources, but not the virtual networks they are linked to.",
			Permission{Actions: list(
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Support/*",
				"Microsoft.Network/privateDnsZones/*",
				"Microsoft.Network/privateDnsOperationResults/*",
				"Microsoft.Network/privateDnsOperationStatuses/*",
				"Microsoft.Network/virtualNetworks/read",
				"Microsoft.Network/virtualNetworks/join/action",
				"Microsoft.Authorization/*/read",
			)}),
		builtIn(RoleCognitiveServicesContributor, "Cognitive Services Contributor",
			"Lets you create, read, update, delete and manage keys of Cognitive Services.",
			Permission{Actions: list(
				"Microsoft.Authorization/*/read",
				"Microsoft.CognitiveServices/*",
				"Microsoft.Features/features/read",
				"Microsoft.Features/providers/features/read",
				"Microsoft.Features/providers/features/register/action",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Insights/diagnosticSettings/*",
				"Microsoft.Insights/logDefinitions/read",
				"Microsoft.Insights/metricdefinitions/read",
				"Microsoft.Insights/metrics/read",
				"Microsoft.ResourceHealth/availabilityStatuses/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Resources/deployments/operations/read",
				"Microsoft.Resources/subscriptions/operationresults/read",
				"Microsoft.Resources/subscriptions/read",
				"Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Support/*",
			)}),
		builtIn(RoleCognitiveServicesUser, "Cognitive Services User",
			"Lets you read and list keys of Cognitive Services.",
			Permission{
				Actions: list(
					"Microsoft.CognitiveServices/*/read",
					"Microsoft.CognitiveServices/accounts/listkeys/action",
					"Microsoft.Insights/alertRules/read",
					"Microsoft.Insights/diagnosticSettings/read",
					"Microsoft.Insights/logDefinitions/read",
					"Microsoft.Insights/metricdefinitions/read",
					"Microsoft.Insights/metrics/read",
					"Microsoft.ResourceHealth/availabilityStatuses/read",
					"Microsoft.Resources/deployments/operations/read",
					"Microsoft.Resources/subscriptions/operationresults/read",
					"Microsoft.Resources/subscriptions/read",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Support/*",
				),
				DataActions: list("Microsoft.CognitiveServices/*"),
			}),
		builtIn(RoleCognitiveServicesOpenAIUser, "Cognitive Services OpenAI User",
			"Read access to view files, models, deployments. The ability to create completion and embedding calls.",
			Permission{
				Actions: list(
					"Microsoft.CognitiveServices/*/read",
					"Microsoft.Authorization/roleAssignments/read",
					"Microsoft.Authorization/roleDefinitions/read",
				),
				DataActions: list(
					"Microsoft.CognitiveServices/accounts/OpenAI/*/read",
					"Microsoft.CognitiveServices/accounts/OpenAI/engines/completions/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/engines/search/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/engines/generate/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/audio/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/search/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/realtime/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/extensions/chat/completions/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/images/generations/action",
					"Microsoft.CognitiveServices/accounts/OpenAI/assistants/*",
				),
				NotDataActions: list("Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"),
			}),
		builtIn(RoleAzureAIUser, "Azure AI User",
			"Grants reader access to AI projects, reader access to AI accounts, and data actions for an AI project.",
			Permission{
				Actions: list(
					"Microsoft.CognitiveServices/*/read",
					"Microsoft.CognitiveServices/accounts/listkeys/action",
					"Microsoft.Insights/alertRules/read",
					"Microsoft.Insights/diagnosticSettings/read",
					"Microsoft.Insights/logDefinitions/read",
					"Microsoft.Insights/metricdefinitions/read",
					"Microsoft.Insights/metrics/read",
					"Microsoft.ResourceHealth/availabilityStatuses/read",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/subscriptions/operationresults/read",
					"Microsoft.Resources/subscriptions/read",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Support/*",
				),
				DataActions: list("Microsoft.CognitiveServices/*"),
			}),
		builtIn(RoleAzureAIProjectManager, "Azure AI Project Manager",
			"Lets you perform management actions on Azure AI Foundry projects, build and develop in them, and conditionally assign the Cognitive Service User role to other principals.",
			Permission{
				Actions: list(
					"Microsoft.Authorization/roleAssignments/write",
					"Microsoft.Authorization/roleAssignments/delete",
					"Microsoft.CognitiveServices/accounts/*/read",
					"Microsoft.CognitiveServices/accounts/projects/*",
					"Microsoft.CognitiveServices/locations/*/read",
					"Microsoft.Authorization/*/read",
					"Microsoft.Insights/alertRules/*",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
				),
				DataActions:      list("Microsoft.CognitiveServices/*"),
				Condition:        delegateAzureAIUser,
				ConditionVersion: "2.0",
			}),
		builtIn(RoleAzureAIAccountOwner, "Azure AI Account Owner",
			"Grants full access to manage AI projects and accounts, and conditionally assign the Azure AI User role to other principals.",
			Permission{
				Actions: list(
					"Microsoft.Authorization/*/read",
					"Microsoft.Authorization/roleAssignments/write",
					"Microsoft.Authorization/roleAssignments/delete",
					"Microsoft.CognitiveServices/*",
					"Microsoft.Features/features/read",
					"Microsoft.Features/providers/features/read",
					"Microsoft.Features/providers/features/register/action",
					"Microsoft.Insights/alertRules/*",
					"Microsoft.Insights/diagnosticSettings/*",
					"Microsoft.Insights/logDefinitions/read",
					"Microsoft.Insights/metricdefinitions/read",
					"Microsoft.Insights/metrics/read",
					"Microsoft.ResourceHealth/availabilityStatuses/read",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/deployments/operations/read",
					"Microsoft.Resources/subscriptions/operationresults/read",
					"Microsoft.Resources/subscriptions/read",
					"Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Support/*",
				),
				Condition:        delegateAzureAIUser,
				ConditionVersion: "2.0",
			}),
		builtIn(RoleAzureAIEnterpriseNetworkConnectionApprover, "Azure AI Enterprise Network Connection Approver",
			"Can approve private endpoint connections to Azure AI common dependency resources.",
			Permission{Actions: list(
				"Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action",
				"Microsoft.ContainerRegistry/registries/privateEndpointConnections/read",
				"Microsoft.ContainerRegistry/registries/privateEndpointConnections/write",
				"Microsoft.Cache/redis/read",
				"Microsoft.Cache/redis/privateEndpointConnections/read",
				"Microsoft.Cache/redis/privateEndpointConnections/write",
				"Microsoft.Cache/redis/privateLinkResources/read",
				"Microsoft.Cache/redis/privateEndpointConnectionsApproval/action",
				"Microsoft.Cache/redisEnterprise/read",
				"Microsoft.Cache/redisEnterprise/privateEndpointConnections/read",
				"Microsoft.Cache/redisEnterprise/privateEndpointConnections/write",
				"Microsoft.Cache/redisEnterprise/privateLinkResources/read",
				"Microsoft.Cache/redisEnterprise/privateEndpointConnectionsApproval/action",
				"Microsoft.CognitiveServices/accounts/read",
				"Microsoft.CognitiveServices/accounts/privateEndpointConnections/read",
				"Microsoft.CognitiveServices/accounts/privateEndpointConnections/write",
				"Microsoft.CognitiveServices/accounts/privateLinkResources/read",
				"Microsoft.DocumentDB/databaseAccounts/privateEndpointConnectionsApproval/action",
				"Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/read",
				"Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
				"Microsoft.DocumentDB/databaseAccounts/privateLinkResources/read",
				"Microsoft.DocumentDB/databaseAccounts/read",
				"Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action",
				"Microsoft.KeyVault/vaults/privateEndpointConnections/read",
				"Microsoft.KeyVault/vaults/privateEndpointConnections/write",
				"Microsoft.KeyVault/vaults/privateLinkResources/read",
				"Microsoft.KeyVault/vaults/read",
				"Microsoft.MachineLearningServices/workspaces/privateEndpointConnectionsApproval/action",
				"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/read",
				"Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write",
				"Microsoft.MachineLearningServices/workspaces/privateLinkResources/read",
				"Microsoft.MachineLearningServices/workspaces/read",
				"Microsoft.Storage/storageAccounts/privateEndpointConnections/read",
				"Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
				"Microsoft.Storage/storageAccounts/privateLinkResources/read",
				"Microsoft.Storage/storageAccounts/read",
				"Microsoft.Sql/servers/privateEndpointConnectionsApproval/action",
				"Microsoft.Sql/servers/privateEndpointConnections/read",
				"Microsoft.Sql/servers/privateEndpointConnections/write",
				"Microsoft.Sql/servers/privateLinkResources/read",
				"Microsoft.Sql/servers/read",
			)}),
		builtIn(RoleAzureAIDeveloper, "Azure AI Developer",
			"Can perform all actions within an Azure AI resource besides managing the resource itself.",
			Permission{
				Actions: list(
					"Microsoft.MachineLearningServices/workspaces/*/read",
					"Microsoft.MachineLearningServices/workspaces/*/action",
					"Microsoft.MachineLearningServices/workspaces/*/delete",
					"Microsoft.MachineLearningServices/workspaces/*/write",
					"Microsoft.MachineLearningServices/locations/*/read",
					"Microsoft.Authorization/*/read",
					"Microsoft.Resources/deployments/*",
				),
				NotActions: list(
					"Microsoft.MachineLearningServices/workspaces/delete",
					"Microsoft.MachineLearningServices/workspaces/write",
					"Microsoft.MachineLearningServices/workspaces/listKeys/action",
					"Microsoft.MachineLearningServices/workspaces/hubs/write",
					"Microsoft.MachineLearningServices/workspaces/hubs/delete",
					"Microsoft.MachineLearningServices/workspaces/featurestores/write",
					"Microsoft.MachineLearningServices/workspaces/featurestores/delete",
				),
				DataActions: list(
					"Microsoft.CognitiveServices/accounts/OpenAI/*",
					"Microsoft.CognitiveServices/accounts/SpeechServices/*",
					"Microsoft.CognitiveServices/accounts/ContentSafety/*",
				),
			}),
		builtIn(RoleAzureAIInferenceDeploymentOperator, "Azure AI Inference Deployment Operator",
			"Can perform all actions required to create a resource deployment within a resource group.",
			Permission{Actions: list(
				"Microsoft.Authorization/*/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Insights/AutoscaleSettings/write",
			)}),
	}
}

func builtIn(guid, name, description string, p Permission) RoleDefinition {
	p.Actions = list(p.Actions...)
	p.NotActions = list(p.NotActions...)
	p.DataActions = list(p.DataActions...)
	p.NotDataActions = list(p.NotDataActions...)
	return RoleDefinition{
		ID:               RoleDefinitionPrefix + guid,
		Name:             guid,
		RoleName:         name,
		Description:      description,
		RoleType:         RoleTypeBuiltIn,
		AssignableScopes: []string{"/"},
		Permissions:      []Permission{p},
	}
}

// list returns xs, or an empty (non-nil) list.
func list(xs ...string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
