package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Store plumbing shared by both kinds: reading and writing the documents
// of virtual networks and subnets, and the commit-time guards that keep a
// referenced subnet from disappearing.

// storedDoc is a stored resource with the document facts writes need.
type storedDoc struct {
	res    *arm.Resource
	parent string // the document's parent id
	etag   string
}

func decodeDoc(doc store.Document) (storedDoc, error) {
	var r arm.Resource
	if err := json.Unmarshal(doc.Body, &r); err != nil {
		return storedDoc{}, fmt.Errorf("stored document %s is not a resource: %w", doc.ID, err)
	}
	r.ETag = doc.ETag
	return storedDoc{res: &r, parent: doc.Parent, etag: doc.ETag}, nil
}

// loadDoc reads one stored resource.
func loadDoc(ctx context.Context, st store.Store, id string) (storedDoc, error) {
	doc, err := st.Get(ctx, id)
	if err != nil {
		return storedDoc{}, fmt.Errorf("read %s: %w", id, err)
	}
	return decodeDoc(doc)
}

// childSubnet is a stored subnet document.
type childSubnet struct {
	storedDoc
	props subnetProperties
}

// listSubnets returns the stored subnets of a virtual network, by id.
func listSubnets(ctx context.Context, st store.Store, vnetID string) ([]childSubnet, error) {
	docs, err := st.List(ctx, store.ListOptions{Type: TypeSubnets, Parent: vnetID})
	if err != nil {
		return nil, fmt.Errorf("list subnets of %s: %w", vnetID, err)
	}
	out := make([]childSubnet, 0, len(docs))
	for _, d := range docs {
		sd, err := decodeDoc(d)
		if err != nil {
			return nil, err
		}
		c := childSubnet{storedDoc: sd}
		if err := json.Unmarshal(sd.res.Properties, &c.props); err != nil {
			return nil, fmt.Errorf("properties of stored subnet %s: %w", d.ID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// putOp writes res as a document of type typ below parent, conditional on
// pre.
func putOp(res *arm.Resource, typ, parent string, pre store.Precondition) (store.Op, error) {
	r := *res
	r.ETag = ""
	body, err := json.Marshal(&r)
	if err != nil {
		return store.Op{}, fmt.Errorf("encode %s: %w", r.ID, err)
	}
	return store.Op{Put: &store.Document{ID: r.ID, Type: typ, Parent: parent, Body: body}, If: pre}, nil
}

// vnetOf returns the id of the virtual network a subnet id belongs to.
func vnetOf(subnetID string) string {
	if i := strings.LastIndex(strings.ToLower(subnetID), "/subnets/"); i >= 0 {
		return subnetID[:i]
	}
	return subnetID
}

// checkUnreferenced refuses to delete a subnet that other resources use.
func checkUnreferenced(ctx context.Context, srv *arm.Server, id string) error {
	users, err := srv.ReferencedBy(ctx, id)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return subnetInUse(id, users)
	}
	return nil
}

func subnetInUse(id string, users []string) *arm.Error {
	if len(users) > 5 {
		users = append(users[:5:5], fmt.Sprintf("%d more", len(users)-5))
	}
	return arm.Errorf(http.StatusConflict, InUseSubnetCode,
		"Subnet %s is in use by %s and cannot be deleted. Delete those resources or remove their references to the subnet first.",
		id, strings.Join(users, ", "))
}
