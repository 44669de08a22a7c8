package cognitive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/perimeterhq/perimeter/internal/arm"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
)

// Codes of refused key operations.
const (
	CodeInvalidKeyName    = "InvalidKeyName"
	CodeLocalAuthDisabled = "LocalAuthDisabled"
)

const (
	// typeKeys is the store type of an account's sealed keys.
	typeKeys = "Perimeter/accountKeys"
	// keyBytes is the randomness of a key: 128 bits, rendered as 32
	// hexadecimal characters — the format of Azure's classic account keys,
	// which every client and tool that checks a key's shape accepts.
	// (Azure's newer 84-character keys embed undocumented structure; 128
	// random bits cannot be guessed either way.)
	keyBytes = 16
	key1     = "Key1"
	key2     = "Key2"
)

// Keys are an account's two access keys, in the shape of Azure's ApiKeys.
// Two keys let clients rotate one while the other keeps working.
type Keys struct {
	Key1 string `json:"key1"`
	Key2 string `json:"key2"`
}

// KeysID is where an account's keys are stored: below the account, so the
// account body never holds them and deleting the account's subtree removes
// them. ('%' cannot occur in ARM names, so the id never collides with a
// child resource.)
func KeysID(accountID string) string { return store.Key(accountID) + "/%keys" }

// keyContext binds a sealed key to its account and slot, so a sealed value
// copied to another account or slot does not open.
func keyContext(accountID, slot string) string { return store.Key(accountID) + "|" + slot }

// OpenKeys opens the stored keys document of an account (the body stored
// at KeysID). It fails with secrets.ErrOpen under any other master key.
func OpenKeys(box *secrets.Box, accountID string, body []byte) (Keys, error) {
	var sealed Keys
	if err := json.Unmarshal(body, &sealed); err != nil {
		return Keys{}, fmt.Errorf("keys of %s: %w", accountID, err)
	}
	k1, err := box.Open(sealed.Key1, keyContext(accountID, "key1"))
	if err != nil {
		return Keys{}, fmt.Errorf("key1 of %s: %w", accountID, err)
	}
	k2, err := box.Open(sealed.Key2, keyContext(accountID, "key2"))
	if err != nil {
		return Keys{}, fmt.Errorf("key2 of %s: %w", accountID, err)
	}
	return Keys{Key1: string(k1), Key2: string(k2)}, nil
}

func newKey() string {
	b := make([]byte, keyBytes)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// keysOp stores keys for an account, sealed, under pre.
func (p *provider) keysOp(accountID string, k Keys, pre store.Precondition) (store.Op, error) {
	if p.cfg.Secrets == nil {
		return store.Op{}, errors.New("cognitive: no secrets box configured; account keys cannot be stored")
	}
	body, err := json.Marshal(Keys{
		Key1: p.cfg.Secrets.Seal([]byte(k.Key1), keyContext(accountID, "key1")),
		Key2: p.cfg.Secrets.Seal([]byte(k.Key2), keyContext(accountID, "key2")),
	})
	if err != nil {
		return store.Op{}, err
	}
	return store.Op{Put: &store.Document{ID: KeysID(accountID), Type: typeKeys, Parent: store.Key(accountID), Body: body}, If: pre}, nil
}

// ensureKeysOp returns the op that gives an account keys when it has none:
// on create, and for an account stored without them. nil when it has keys.
func (p *provider) ensureKeysOp(ctx context.Context, accountID string, create bool) (*store.Op, error) {
	if !create {
		_, err := p.store().Get(ctx, KeysID(accountID))
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("read keys of %s: %w", accountID, err)
		}
	}
	// On create a leftover from an account deleted at this id may still be
	// there if that delete was interrupted: new keys replace it.
	pre := store.Precondition{}
	if !create {
		pre.IfNoneMatch = "*"
	}
	op, err := p.keysOp(accountID, Keys{Key1: newKey(), Key2: newKey()}, pre)
	return &op, err
}

// readKeys opens an account's keys and returns them with their ETag.
func (p *provider) readKeys(ctx context.Context, accountID string) (Keys, string, error) {
	doc, err := p.store().Get(ctx, KeysID(accountID))
	if errors.Is(err, store.ErrNotFound) {
		return Keys{}, "", arm.Errorf(http.StatusConflict, "KeysNotProvisioned",
			"The account '%s' has no keys yet. Update the account (PUT or PATCH) to provision them, then retry.", accountID)
	}
	if err != nil {
		return Keys{}, "", fmt.Errorf("read keys of %s: %w", accountID, err)
	}
	if p.cfg.Secrets == nil {
		return Keys{}, "", errors.New("cognitive: no secrets box configured; account keys cannot be opened")
	}
	k, err := OpenKeys(p.cfg.Secrets, accountID, doc.Body)
	return k, doc.ETag, err
}

// checkLocalAuth refuses key operations on an account with local
// authentication disabled, as Azure does: its keys open nothing.
func checkLocalAuth(acct *arm.Resource, action string) error {
	var props struct {
		DisableLocalAuth bool `json:"disableLocalAuth"`
	}
	_ = json.Unmarshal(acct.Properties, &props)
	if props.DisableLocalAuth {
		return arm.BadRequest(CodeLocalAuthDisabled,
			"Failed to %s: disableLocalAuth is true on '%s', so keys are not accepted. Use Microsoft Entra ID tokens, or set properties.disableLocalAuth to false first.", action, acct.Name)
	}
	return nil
}

// listKeys answers POST .../accounts/{a}/listKeys.
func (p *provider) listKeys(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	if err := checkLocalAuth(a.Resource, "list keys"); err != nil {
		return nil, err
	}
	k, _, err := p.readKeys(ctx, a.Resource.ID)
	if err != nil {
		return nil, err
	}
	return &arm.Result{Body: k}, nil
}

// regenerateKey answers POST .../accounts/{a}/regenerateKey
// {"keyName": "Key1"|"Key2"}: it replaces that key and answers both.
func (p *provider) regenerateKey(ctx context.Context, a *arm.Action) (*arm.Result, error) {
	var in struct {
		KeyName string `json:"keyName"`
	}
	if err := decodeBody(a.Body, `{"keyName": "Key1"}`, &in); err != nil {
		return nil, err
	}
	slot, ok := enum(in.KeyName, key1, key2)
	if !ok {
		return nil, arm.InvalidProperty(CodeInvalidKeyName, "keyName", "The keyName '%s' is invalid. Use 'Key1' or 'Key2'.", in.KeyName)
	}
	if err := checkLocalAuth(a.Resource, "regenerate a key"); err != nil {
		return nil, err
	}
	// Two regenerations may race; each retries on the other's ETag, so
	// neither is lost.
	for range 8 {
		k, etag, err := p.readKeys(ctx, a.Resource.ID)
		if err != nil {
			return nil, err
		}
		if slot == key1 {
			k.Key1 = newKey()
		} else {
			k.Key2 = newKey()
		}
		op, err := p.keysOp(a.Resource.ID, k, store.Precondition{IfMatch: etag})
		if err != nil {
			return nil, err
		}
		_, err = p.store().Apply(ctx, op, store.Op{Check: a.Resource.ID, If: store.Precondition{IfMatch: "*"}})
		switch {
		case err == nil:
			return &arm.Result{Body: k}, nil
		case !errors.Is(err, store.ErrPreconditionFailed):
			return nil, fmt.Errorf("store keys of %s: %w", a.Resource.ID, err)
		}
	}
	return nil, arm.Errorf(http.StatusConflict, arm.CodeConflict, "The keys of '%s' were changed by other requests while this one ran. Retry the request.", a.Resource.ID)
}
