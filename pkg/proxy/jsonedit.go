package proxy

// edit is a member to set (value non-nil) or remove (value nil).
type edit struct {
	key   string
	value []byte
}

// applyEdits rewrites body's top-level members: each edited key keeps the
// position of its first occurrence, duplicates of it are dropped (so a
// client cannot smuggle a second "model" past the check), removed keys
// vanish, and keys not present are appended.
func applyEdits(body []byte, fields []field, edits []edit) []byte {
	out := make([]byte, 0, len(body)+64)
	out = append(out, '{')
	var small [16]bool
	written := small[:] // written[i]: edits[i] already placed
	if len(edits) > len(small) {
		written = make([]bool, len(edits))
	}
	first := true
	for _, f := range fields {
		idx := -1
		for j := range edits {
			if edits[j].key == f.key {
				idx = j
				break
			}
		}
		var val []byte
		switch {
		case idx < 0:
			val = body[f.start:f.end]
		case written[idx] || edits[idx].value == nil:
			continue
		default:
			written[idx] = true
			val = edits[idx].value
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, f.key)
		out = append(out, ':')
		out = append(out, val...)
	}
	for j, e := range edits {
		if e.value == nil || written[j] {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, e.key)
		out = append(out, ':')
		out = append(out, e.value...)
	}
	return append(out, '}')
}
