package arm

// ResourcesAPIVersions are the Microsoft.Resources api-versions served: the
// versions the Azure SDKs and CLI send for resource groups, resources and
// providers.
var ResourcesAPIVersions = []string{
	"2014-04-01", "2015-01-01", "2016-02-01", "2016-09-01", "2017-05-10", "2018-02-01", "2018-05-01",
	"2019-05-01", "2019-05-10", "2019-07-01", "2019-08-01", "2019-10-01", "2020-06-01", "2020-10-01",
	"2021-01-01", "2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01",
	"2025-03-01", "2025-04-01",
}

// resourcesView is GET /subscriptions/{s}/resources and
// /subscriptions/{s}/resourceGroups/{g}/resources: the tracked resources
// below a scope, of every registered type.
type resourcesView struct{}

func (resourcesView) Spec() Spec {
	return Spec{
		Type:        TypeResources,
		APIVersions: ResourcesAPIVersions,
		ParentType:  TypeSubscription,
		ListUnder:   []string{TypeResourceGroup},
		ReadOnly:    true,
	}
}
