package lambdatest

import "bytes"

// EachMark returns an onChunk callback for InvokeStream that calls f(k) once
// for the k-th (from 0) occurrence of mark in the body so far, as soon as
// the piece completing it arrives; a mark split across pieces still counts
// once. f runs on the Runtime API's goroutine and must not block for long.
func EachMark(mark string, f func(k int)) func(Chunk) {
	var body []byte
	seen := 0
	m := []byte(mark)
	return func(c Chunk) {
		body = append(body, c.Data...)
		for n := bytes.Count(body, m); seen < n; seen++ {
			f(seen)
		}
	}
}
