package proxy

import "sync"

// copyBuffers lends ReverseProxy the 32 KB buffers it copies answers
// through. Without a pool it allocates one per request, which is most of the
// garbage a non-streamed request leaves behind.
type copyBuffers struct{ pool sync.Pool }

func (b *copyBuffers) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, 32<<10)
}

func (b *copyBuffers) Put(buf []byte) { b.pool.Put(&buf) }
