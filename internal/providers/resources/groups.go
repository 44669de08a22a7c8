package resources

import (
	"github.com/perimeterhq/perimeter/internal/arm"
)

// groups are resource groups: located containers whose deletion is a
// long-running operation that removes everything inside.
type groups struct{}

func (groups) Spec() arm.Spec {
	return arm.Spec{
		Type:        arm.TypeResourceGroup,
		Operation:   "Microsoft.Resources/subscriptions/resourceGroups",
		APIVersions: arm.ResourcesAPIVersions,
		ParentType:  arm.TypeSubscription,
		Location:    arm.LocationRequired,
		AsyncDelete: true,
		Name: arm.NameRule(`^[\p{L}\p{N}_\-\.\(\)]{0,89}[\p{L}\p{N}_\-\(\)]$`,
			"Resource group names are 1 to 90 characters: letters, digits, underscores, hyphens, periods and parentheses, and must not end with a period."),
	}
}
