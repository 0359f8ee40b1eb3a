package config

import "sort"

// CredentialRefs lists the vault references that are used only as a whole
// key-auth key (consumers[].keyauth_credentials[].key) and nowhere else in
// a document. A secret source may treat such a reference whose secret is
// gone as a revoked key rather than as a broken document: the rest of the
// configuration keeps serving.
func CredentialRefs(data []byte) ([]string, error) {
	tree, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	top, _ := tree.(map[string]any)
	asKey := map[string]bool{}
	consumers, _ := top["consumers"].([]any)
	for _, c := range consumers {
		co, _ := c.(map[string]any)
		creds, _ := co["keyauth_credentials"].([]any)
		for _, k := range creds {
			ko, _ := k.(map[string]any)
			key, _ := ko["key"].(string)
			if vaultRef.FindString(key) == key && key != "" {
				asKey[key] = true
				ko["key"] = "" // so the scan below sees its other uses only
			}
		}
	}
	substitute(tree, func(s string) string {
		for _, r := range vaultRef.FindAllString(s, -1) {
			delete(asKey, r) // also used elsewhere: not a credential only
		}
		return s
	})
	var out []string
	for r := range asKey {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// RefuseKeys returns a copy of c in which every key-auth route refuses
// every key, while everything else (the upstream credentials included) is
// unchanged. A source serves it when it can no longer tell whether a key
// has been revoked.
func (c *Config) RefuseKeys() *Config {
	out := *c
	out.Routes = make([]*Route, len(c.Routes))
	for i, r := range c.Routes {
		if r.KeyAuth != nil {
			rc, ka := *r, *r.KeyAuth
			ka.credentials = nil
			rc.KeyAuth = &ka
			r = &rc
		}
		out.Routes[i] = r
	}
	return &out
}
