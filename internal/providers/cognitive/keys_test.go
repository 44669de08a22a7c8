package cognitive_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/perimeterhq/perimeter/internal/providers/cognitive"
	"github.com/perimeterhq/perimeter/internal/secrets"
	"github.com/perimeterhq/perimeter/internal/store"
)

type apiKeys struct{ Key1, Key2 string }

func (e *env) listKeys(path string) apiKeys {
	e.T.Helper()
	var k apiKeys
	if err := json.Unmarshal(e.Must(http.StatusOK, http.MethodPost, path+"/listKeys"+api, nil).Body, &k); err != nil {
		e.T.Fatal(err)
	}
	return k
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	e.put(http.StatusCreated, acct("keys"), account("keys-test", nil))
	first := e.listKeys(acct("keys"))
	hexKey := regexp.MustCompile(`^[0-9a-f]{32}$`)
	if !hexKey.MatchString(first.Key1) || !hexKey.MatchString(first.Key2) || first.Key1 == first.Key2 {
		t.Fatalf("keys %+v: want two different 32-character hex keys", first)
	}
	if again := e.listKeys(acct("keys")); again != first {
		t.Fatalf("listKeys changed the keys: %+v then %+v", first, again)
	}

	// regenerateKey Key2 changes key2 only, and answers both.
	var regen apiKeys
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodPost, acct("keys")+"/regenerateKey"+api, map[string]string{"keyName": "Key2"}).Body, &regen)
	if regen.Key1 != first.Key1 || regen.Key2 == first.Key2 || !hexKey.MatchString(regen.Key2) {
		t.Fatalf("regenerate Key2: %+v, before %+v", regen, first)
	}
	if now := e.listKeys(acct("keys")); now != regen {
		t.Fatalf("listKeys after regenerate: %+v, want %+v", now, regen)
	}
	var regen1 apiKeys
	_ = json.Unmarshal(e.Must(http.StatusOK, http.MethodPost, acct("keys")+"/regenerateKey"+api, map[string]string{"keyName": "key1"}).Body, &regen1)
	if regen1.Key1 == regen.Key1 || regen1.Key2 != regen.Key2 {
		t.Fatalf("regenerate key1: %+v, before %+v", regen1, regen)
	}
	for _, bad := range []struct{ body, code, mention string }{
		{`{"keyName": "Key3"}`, "InvalidKeyName", "'Key1' or 'Key2'"},
		{`{}`, "InvalidKeyName", "'Key1' or 'Key2'"},
		{``, "InvalidRequestContent", `{"keyName": "Key1"}`},
		{`{"keyName": 1}`, "InvalidRequestContent", "keyName"},
	} {
		before := e.Revision()
		r := e.Must(http.StatusBadRequest, http.MethodPost, acct("keys")+"/regenerateKey"+api, bad.body)
		if got := r.ARMError(t); got.Code != bad.code || !strings.Contains(got.Message, bad.mention) {
			t.Errorf("regenerateKey %s: %+v", bad.body, got)
		}
		if e.Revision() != before {
			t.Errorf("refused regenerateKey %s wrote to the store", bad.body)
		}
	}
	e.Must(http.StatusNotFound, http.MethodPost, acct("nope")+"/listKeys"+api, nil)

	// The plaintext keys appear in no stored document and no change-feed
	// entry: the store holds them sealed.
	seen := []string{first.Key1, first.Key2, regen.Key2, regen1.Key1}
	docs, err := e.Store.List(t.Context(), store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := e.Store.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, d := range docs {
		bodies = append(bodies, d.ID+" "+string(d.Body))
	}
	for _, c := range changes {
		bodies = append(bodies, c.ID+" "+string(c.Body))
	}
	for _, b := range bodies {
		for _, k := range seen {
			if strings.Contains(strings.ToLower(b), k) {
				t.Fatalf("a key is stored in plaintext: %s", b)
			}
		}
	}

	// The account body never holds keys; the keys document opens only with
	// the master key it was sealed with.
	keysDoc, err := e.Store.Get(t.Context(), cognitive.KeysID(acct("keys")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cognitive.OpenKeys(e.box, acct("keys"), keysDoc.Body)
	if err != nil || got.Key1 != regen1.Key1 || got.Key2 != regen1.Key2 {
		t.Fatalf("OpenKeys with the master key: %+v %v", got, err)
	}
	if _, err := cognitive.OpenKeys(newBox(t), acct("keys"), keysDoc.Body); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("a store copied without the master key revealed the keys: %v", err)
	}
	// Sealed for one account, keys do not open for another.
	if _, err := cognitive.OpenKeys(e.box, acct("other"), keysDoc.Body); !errors.Is(err, secrets.ErrOpen) {
		t.Fatalf("keys opened under another account's id: %v", err)
	}

	// With local authentication disabled, keys are refused, as in Azure.
	pr := e.Must(http.StatusOK, http.MethodPatch, acct("keys")+api, map[string]any{"properties": map[string]any{"disableLocalAuth": true}})
	e.WaitOperation(pr.Header.Get("Location"))
	for _, action := range []string{"listKeys", "regenerateKey"} {
		r := e.Must(http.StatusBadRequest, http.MethodPost, acct("keys")+"/"+action+api, map[string]string{"keyName": "Key1"})
		if got := r.ARMError(t); got.Code != "LocalAuthDisabled" || !strings.Contains(got.Message, "disableLocalAuth") {
			t.Errorf("%s with local auth disabled: %+v", action, got)
		}
	}
}
