package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// KeyAuth is Kong's key-auth plugin: which client keys may call a route. A
// public Function URL with the upstream key behind it is otherwise an open
// relay.
type KeyAuth struct {
	KeyNames    []string
	KeyInHeader bool
	KeyInQuery  bool
	KeyInBody   bool
	credentials []credential
}

type credential struct {
	consumer string
	digest   [sha256.Size]byte
}

// Identify returns the consumer whose key this is. Keys are held only as
// SHA-256 digests and every credential is compared, in constant time, so
// neither the timing nor a memory dump gives a key away.
func (k *KeyAuth) Identify(key string) (consumer string, ok bool) {
	d := sha256.Sum256([]byte(key))
	found := -1
	for i := range k.credentials {
		if subtle.ConstantTimeCompare(d[:], k.credentials[i].digest[:]) == 1 && found < 0 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return k.credentials[found].consumer, true
}

// readKeyAuth reads a key-auth plugin's config with Kong's defaults.
func readKeyAuth(o *object) *KeyAuth {
	k := &KeyAuth{
		KeyNames:    o.strings("key_names"),
		KeyInHeader: o.boolean("key_in_header", true),
		KeyInQuery:  o.boolean("key_in_query", true),
		KeyInBody:   o.boolean("key_in_body", false),
	}
	if !o.has("key_names") {
		k.KeyNames = []string{"apikey"}
	}
	if o.has("anonymous") {
		o.w.fail(join(o.path, "anonymous"), "not supported: it would let callers without a key through to the upstream")
	}
	// Kong always hides nothing by default; this proxy never forwards a
	// client key upstream, so hide_credentials is accepted and implied.
	o.ignore("hide_credentials", "run_on_preflight", "realm")
	o.done()
	return k
}

// readConsumers reads decK consumers, their key-auth credentials and the
// plugins listed under them, then hands the credentials to every key-auth
// instance.
func (d *deck) readConsumers(list []any) {
	seen := map[[sha256.Size]byte]string{}
	for i, cv := range list {
		path := fmt.Sprintf("consumers[%d]", i)
		o := d.w.object(path, cv)
		name := o.str("username")
		if name == "" {
			name = o.str("custom_id")
		}
		if name == "" {
			d.w.fail(path, "a consumer needs a username or custom_id")
		}
		for _, f := range []string{"username", "custom_id", "id"} {
			d.addRef(d.consumerRefs, "consumer", join(path, f), o.str(f), name)
		}
		for j, kv := range o.list("keyauth_credentials") {
			d.readCredential(fmt.Sprintf("%s.keyauth_credentials[%d]", path, j), kv, name, seen)
		}
		for j, pv := range o.list("plugins") {
			d.readPlugin(fmt.Sprintf("%s.plugins[%d]", path, j), pv, Scope{Consumer: name})
		}
		// Credentials of other auth plugins and acl groups: those plugins
		// are refused, so their credentials grant nothing.
		o.ignore("tags", "groups", "created_at", "updated_at", "basicauth_credentials", "jwt_secrets", "hmacauth_credentials",
			"oauth2_credentials", "mtls_auth_credentials", "acls")
		o.done()
	}
	for _, e := range d.plugins {
		if k, ok := e.value.(*KeyAuth); ok {
			k.credentials = d.creds
		}
	}
}

func (d *deck) readCredential(path string, v any, consumer string, seen map[[sha256.Size]byte]string) {
	o := d.w.object(path, v)
	key := o.str("key")
	o.ignore("id", "tags", "ttl", "created_at", "consumer")
	o.done()
	digest, err := keyDigest(key)
	if err != nil {
		d.w.fail(join(path, "key"), "%v", err)
		return
	}
	if other, dup := seen[digest]; dup {
		d.w.fail(join(path, "key"), "the same key is already a credential of consumer %q", other)
		return
	}
	seen[digest] = consumer
	d.creds = append(d.creds, credential{consumer: consumer, digest: digest})
}

// keyDigest accepts a key as plaintext or as "sha256:<hex>", so that the
// configuration need not hold client keys in the clear.
func keyDigest(key string) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	if hexDigest, ok := strings.CutPrefix(key, "sha256:"); ok {
		b, err := hex.DecodeString(hexDigest)
		if err != nil || len(b) != sha256.Size {
			return d, fmt.Errorf("sha256: keys need 64 hex digits")
		}
		copy(d[:], b)
		return d, nil
	}
	if len(key) < 8 {
		return d, fmt.Errorf("keys need at least 8 characters")
	}
	return sha256.Sum256([]byte(key)), nil
}
