package arm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Registration states of a resource provider in a subscription.
const (
	Registered    = "Registered"
	NotRegistered = "NotRegistered"
	Unregistered  = "Unregistered"
)

// alwaysRegistered are namespaces every subscription can use without
// registering, as in Azure.
var alwaysRegistered = [...]string{"Microsoft.Resources", "Microsoft.Features", "Microsoft.Authorization", "Perimeter.Diagnostics"}

// AlwaysRegistered reports whether a namespace needs no registration.
func AlwaysRegistered(ns string) bool {
	for _, a := range alwaysRegistered {
		if strings.EqualFold(a, ns) {
			return true
		}
	}
	return false
}

// registrationDoc is the stored registration of a provider namespace in a
// subscription, kept at RegistrationID.
type registrationDoc struct {
	Namespace         string `json:"namespace"`
	RegistrationState string `json:"registrationState"`
}

// RegistrationID is where a subscription's registration of a namespace is
// stored.
func RegistrationID(subscriptionID, namespace string) string {
	return "/subscriptions/" + subscriptionID + "/providers/" + namespace
}

// RegistrationState returns a namespace's registration state in a
// subscription.
func (s *Server) RegistrationState(ctx context.Context, subscriptionID, namespace string) (string, error) {
	if AlwaysRegistered(namespace) {
		return Registered, nil
	}
	doc, err := s.cfg.Store.Get(ctx, RegistrationID(subscriptionID, namespace))
	if errors.Is(err, store.ErrNotFound) {
		return NotRegistered, nil
	}
	if err != nil {
		return "", fmt.Errorf("read registration of %s: %w", namespace, err)
	}
	var r registrationDoc
	if err := json.Unmarshal(doc.Body, &r); err != nil {
		return "", fmt.Errorf("registration of %s: %w", namespace, err)
	}
	return r.RegistrationState, nil
}

// SetRegistrationState records a namespace's registration state.
func (s *Server) SetRegistrationState(ctx context.Context, subscriptionID, namespace, state string) error {
	body, err := json.Marshal(registrationDoc{Namespace: namespace, RegistrationState: state})
	if err != nil {
		return err
	}
	_, err = store.Put(ctx, s.cfg.Store, store.Document{
		ID: RegistrationID(subscriptionID, namespace), Type: "Microsoft.Resources/providerRegistrations",
		Parent: "/subscriptions/" + subscriptionID, Body: body,
	}, store.Precondition{})
	return err
}

// checkRegistered refuses writes to a namespace the subscription has not
// registered, with the code the Azure SDKs react to by registering it.
func (s *Server) checkRegistered(ctx context.Context, req *Request) error {
	sub := req.SubscriptionID()
	ns := Namespace(req.Spec.Type)
	if sub == "" || AlwaysRegistered(ns) {
		return nil
	}
	state, err := s.RegistrationState(ctx, sub, ns)
	if err != nil {
		return err
	}
	if state != Registered {
		return Errorf(http.StatusConflict, CodeMissingRegistration,
			"The subscription is not registered to use namespace '%s'. Register it with POST /subscriptions/%s/providers/%s/register (perimeter provider register --namespace %s).",
			ns, sub, ns, ns)
	}
	return nil
}
